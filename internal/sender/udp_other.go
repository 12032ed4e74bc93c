//go:build !windows

package sender

import (
	"net"
	"net/netip"
)

// SendDatagram puts one UDP datagram holding payload on the wire to dst
// and forgets it: it waits for no answer and reports only local errors.
func SendDatagram(dst netip.AddrPort, payload []byte) error {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(dst))
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write(payload)
	return err
}
