//go:build !(linux || netbsd || openbsd || (freebsd && cgo) || (dragonfly && cgo) || darwin || windows)

package profiles

import (
	"fmt"
	"runtime"
)

// probeKeyring: go-keyring has no keyring for this platform (on FreeBSD
// it needs cgo).
func probeKeyring() error {
	return fmt.Errorf("%w: not supported on %s in this build", ErrNoKeyring, runtime.GOOS)
}
