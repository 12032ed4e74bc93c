// Command knock is a port-knocking client: it plays knockd sequences and
// fwknop SPA packets, keeps profiles in the OS keyring, runs ssh behind a
// knock and serves as a ProxyCommand. See README.md.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:]))
}
