package sender

import "net/netip"

// sendUDP puts one knock datagram on the wire.
func sendUDP(addr netip.Addr, port uint16, payload []byte) error {
	return SendDatagram(netip.AddrPortFrom(addr, port), payload)
}
