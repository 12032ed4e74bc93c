//go:build windows

package sender

import (
	"errors"
	"net/netip"
	"sync"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	wsaOnce         sync.Once
	procIoctlsocket = windows.NewLazySystemDLL("ws2_32.dll").NewProc("ioctlsocket")
)

// fionbio is the ioctlsocket command that makes a socket non-blocking.
const fionbio = 0x8004667e

// connectOnce starts a non-blocking connect() and closes the socket at once,
// so exactly one SYN reaches the wire, as with knockd's own client. Windows
// has no raw TCP sockets, so this is its only TCP knock.
func connectOnce(addr netip.Addr, port uint16) error {
	wsaOnce.Do(func() {
		var d windows.WSAData
		_ = windows.WSAStartup(uint32(0x202), &d)
	})
	var sa windows.Sockaddr
	domain := windows.AF_INET
	if addr.Is4() {
		sa = &windows.SockaddrInet4{Port: int(port), Addr: addr.As4()}
	} else {
		domain = windows.AF_INET6
		sa = &windows.SockaddrInet6{Port: int(port), Addr: addr.As16()}
	}
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
