// Command etcd is etcd's own server entry point, built from go.etcd.io/etcd/server/v3 at the
// version go.mod pins (etcd's main module is not importable as a library).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
