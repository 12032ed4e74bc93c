package sender

import (
	"net"
	"net/netip"
)

// sendUDP puts one datagram on the wire.
func sendUDP(addr netip.Addr, port uint16, payload []byte) error {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, port)))
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write(payload)
	return err
}
