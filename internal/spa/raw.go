package spa

import (
	"crypto/rand"
	"encoding/binary"
	"net/netip"
)

// Raw packets, built as fwknop's client builds them (client/spa_comm.c):
// a TCP SYN with sequence number 1 and window 32767 carrying the data, a
// UDP datagram, or an ICMP message (echo reply by default). Unlike
// fwknop, knock fills in correct transport checksums.

// rawTTL is the TTL fwknop's raw packets carry (RAW_SPA_TTL).
const rawTTL = 255

// IP protocol numbers.
const (
	protoICMP = 1
	protoTCP  = 6
	protoUDP  = 17
)

// rawSegment returns the transport header and payload of a raw SPA
// packet, and its IP protocol number.
func rawSegment(t Transport, src netip.Addr, srcPort uint16, payload []byte) ([]byte, int) {
	dst := t.Dst.Addr().Unmap()
	switch t.Proto {
	case TCPRaw:
		seg := make([]byte, 20+len(payload))
		binary.BigEndian.PutUint16(seg[0:], srcPort)
		binary.BigEndian.PutUint16(seg[2:], t.Dst.Port())
		binary.BigEndian.PutUint32(seg[4:], 1) // sequence number
		seg[12] = 5 << 4                       // data offset: 5 words
		seg[13] = 0x02                         // SYN
		binary.BigEndian.PutUint16(seg[14:], 32767)
		copy(seg[20:], payload)
		binary.BigEndian.PutUint16(seg[16:], l4Checksum(src, dst, protoTCP, seg))
		return seg, protoTCP
	case ICMP:
		seg := make([]byte, 8+len(payload))
		seg[0], seg[1] = t.ICMPType, t.ICMPCode
		if t.ICMPType == 8 && t.ICMPCode == 0 { // echo request
			var id [2]byte
			_, _ = rand.Read(id[:])
			copy(seg[4:], id[:])
			binary.BigEndian.PutUint16(seg[6:], 1)
		}
		copy(seg[8:], payload)
		binary.BigEndian.PutUint16(seg[2:], checksum(seg, 0))
		return seg, protoICMP
	}
	seg := make([]byte, 8+len(payload))
	binary.BigEndian.PutUint16(seg[0:], srcPort)
	binary.BigEndian.PutUint16(seg[2:], t.Dst.Port())
	binary.BigEndian.PutUint16(seg[4:], uint16(len(seg)))
	copy(seg[8:], payload)
	sum := l4Checksum(src, dst, protoUDP, seg)
	if sum == 0 {
		sum = 0xffff
	}
	binary.BigEndian.PutUint16(seg[6:], sum)
	return seg, protoUDP
}

// l4Checksum is the TCP/UDP checksum with the IPv4 pseudo-header.
func l4Checksum(src, dst netip.Addr, proto int, seg []byte) uint16 {
	s, d := src.As4(), dst.As4()
	var sum uint32
	sum += uint32(binary.BigEndian.Uint16(s[0:])) + uint32(binary.BigEndian.Uint16(s[2:]))
	sum += uint32(binary.BigEndian.Uint16(d[0:])) + uint32(binary.BigEndian.Uint16(d[2:]))
	sum += uint32(proto) + uint32(len(seg))
	return checksum(seg, sum)
}

// checksum is the Internet checksum (RFC 1071) of b, starting from sum.
func checksum(b []byte, sum uint32) uint16 {
	for len(b) >= 2 {
		sum += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
