package sender

import (
	"encoding/binary"
	"net/netip"
)

// tcpHeaderLen is the length of a TCP header without options.
const tcpHeaderLen = 20

// buildTCP writes a 20-byte TCP header with the given flags and a correct
// checksum over the IPv4 or IPv6 pseudo-header into b and returns it.
// seqNum and ackNum should be random; ackNum is used only with ACK set.
func buildTCP(b []byte, src, dst netip.Addr, sport, dport uint16, flags uint8, seqNum, ackNum uint32) []byte {
	b = b[:tcpHeaderLen]
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint32(b[4:], seqNum)
	if flags&0x10 == 0 {
		ackNum = 0
	}
	binary.BigEndian.PutUint32(b[8:], ackNum)
	b[12] = (tcpHeaderLen / 4) << 4
	b[13] = flags
	binary.BigEndian.PutUint16(b[14:], 64240) // window, as a common stack sends
	b[16], b[17] = 0, 0
	binary.BigEndian.PutUint16(b[18:], 0) // urgent pointer
	binary.BigEndian.PutUint16(b[16:], tcpChecksum(src, dst, b))
	return b
}

// tcpChecksum computes the Internet checksum of segment with the pseudo
// header of RFC 793 (IPv4) or RFC 8200 (IPv6).
func tcpChecksum(src, dst netip.Addr, segment []byte) uint16 {
	var sum uint32
	add := func(p []byte) {
		for i := 0; i+1 < len(p); i += 2 {
			sum += uint32(p[i])<<8 | uint32(p[i+1])
		}
		if len(p)%2 == 1 {
			sum += uint32(p[len(p)-1]) << 8
		}
	}
	if src.Is4() {
		s, d := src.As4(), dst.As4()
		add(s[:])
		add(d[:])
	} else {
		s, d := src.As16(), dst.As16()
		add(s[:])
		add(d[:])
	}
	sum += 6 // protocol TCP
	sum += uint32(len(segment))
	add(segment)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
