//go:build !linux

package server

import (
	"fmt"
	"runtime"
)

func sniffAvailable() bool { return false }

func openSniffer(string, func(Packet)) (source, error) {
	return nil, fmt.Errorf("%w on %s: it needs Linux packet sockets; use listen mode (--listen)", ErrSniffUnsupported, runtime.GOOS)
}
