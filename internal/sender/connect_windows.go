//go:build windows

package sender

import (
	"errors"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/windows"
)

var procIoctlsocket = windows.NewLazySystemDLL("ws2_32.dll").NewProc("ioctlsocket")

// fionbio is the ioctlsocket command that makes a socket non-blocking.
const fionbio = 0x8004667e

// connectOnce starts a non-blocking connect() and closes the socket at once,
// so exactly one SYN reaches the wire, as with knockd's own client. Windows
// has no raw TCP sockets, so this is its only TCP knock.
func connectOnce(addr netip.Addr, port uint16) error {
	wsaStartup()
	domain, sa := sockaddr(addr, port)
	s, err := windows.Socket(domain, windows.SOCK_STREAM, windows.IPPROTO_TCP)
	if err != nil {
		return err
	}
	nb := uint32(1)
	if r, _, e := procIoctlsocket.Call(uintptr(s), fionbio, uintptr(unsafe.Pointer(&nb))); r != 0 {
		windows.Closesocket(s)
		return e
	}
	err = windows.Connect(s, sa)
	windows.Closesocket(s)
	switch {
	case err == nil,
		errors.Is(err, windows.WSAEWOULDBLOCK),
		errors.Is(err, windows.WSAECONNREFUSED):
		return nil
	}
	return err
}
