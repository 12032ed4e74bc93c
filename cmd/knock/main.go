// Command knock is a port-knocking client: it plays knockd sequences and
// fwknop SPA packets, keeps profiles in the OS keyring, runs ssh behind a
// knock and serves as a ProxyCommand. See README.md and docs/.
package main

import (
	"os"

	// Before bubbletea's init: no terminal query at start-up.
	_ "github.com/a-knock/knock/internal/quietterm"
)

func main() {
	os.Exit(run(os.Args[1:]))
}
