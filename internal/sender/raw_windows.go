//go:build windows

package sender

import (
	"errors"
	"net/netip"
)

type rawSocket interface {
	Send(port uint16, flags uint8) error
	Close() error
}

var errNoRawOnWindows = errors.New("Windows does not allow raw TCP sockets")

func openRaw(netip.Addr) (rawSocket, error) { return nil, errNoRawOnWindows }

func rawHint(error) string {
	return "on Windows only a plain SYN can be sent: use --method connect and a door with tcpflags = syn, or no tcpflags"
}
