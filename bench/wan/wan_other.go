//go:build !linux

package main

import (
	"fmt"
	"os"
)

func run(config) int {
	fmt.Fprintln(os.Stderr, "wan: the lab needs Linux network namespaces")
	return 1
}
