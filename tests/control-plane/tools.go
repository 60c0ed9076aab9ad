//go:build tools

// Package tools pins the Kubernetes commands the Rust test harness runs. `go build` of the
// imported command paths builds them at the versions go.mod names.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
