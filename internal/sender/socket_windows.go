//go:build windows

package sender

import (
	"net"
	"net/netip"
	"strconv"
	"sync"

	"golang.org/x/sys/windows"
)

var wsaOnce sync.Once

// wsaStartup initialises Winsock once for the plain sockets of this
// package; the net package does the same for its own, but only when used.
func wsaStartup() {
	wsaOnce.Do(func() {
		var d windows.WSAData
		_ = windows.WSAStartup(uint32(0x202), &d)
	})
}

// sockaddr returns the address family and socket address of addr:port,
// with an IPv6 zone given by interface name or index.
func sockaddr(addr netip.Addr, port uint16) (int, windows.Sockaddr) {
	addr = addr.Unmap()
	if addr.Is4() {
		return windows.AF_INET, &windows.SockaddrInet4{Port: int(port), Addr: addr.As4()}
	}
	return windows.AF_INET6, &windows.SockaddrInet6{Port: int(port), Addr: addr.As16(), ZoneId: zoneID(addr.Zone())}
}

func zoneID(zone string) uint32 {
	if zone == "" {
		return 0
	}
	if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(n)
	}
	if ifi, err := net.InterfaceByName(zone); err == nil {
		return uint32(ifi.Index)
	}
	return 0
}
