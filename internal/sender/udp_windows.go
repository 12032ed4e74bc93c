//go:build windows

package sender

import (
	"fmt"
	"net/netip"

	"golang.org/x/sys/windows"
)

// SendDatagram puts one UDP datagram holding payload on the wire to dst
// and forgets it: it waits for no answer and reports only local errors.
//
// It uses a plain socket and sendto rather than the net package, which
// sets up every UDP socket for its poller with
// WSAIoctl(SIO_UDP_CONNRESET); wine does not implement that ioctl, and a
// datagram sent and forgotten needs neither.
func SendDatagram(dst netip.AddrPort, payload []byte) error {
	wsaStartup()
	domain, sa := sockaddr(dst.Addr(), dst.Port())
	s, err := windows.Socket(domain, windows.SOCK_DGRAM, windows.IPPROTO_UDP)
	if err != nil {
		return fmt.Errorf("send udp %s: socket: %w", dst, err)
	}
	defer windows.Closesocket(s)
	if err := windows.Sendto(s, payload, 0, sa); err != nil {
		return fmt.Errorf("send udp %s: sendto: %w", dst, err)
	}
	return nil
}
