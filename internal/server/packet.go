package server

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"time"

	"github.com/a-knock/knock/internal/seq"
)

// Packet is one knock candidate: a TCP segment or UDP datagram seen by a
// source (sniffer or listener).
type Packet struct {
	Src, Dst netip.Addr // Dst is invalid when the source cannot tell
	Proto    seq.Proto
	Port     uint16 // destination port
	Flags    uint8  // TCP flags (seq.SYN ...); 0 for UDP
	Time     time.Time
}

// IP protocol numbers.
const (
	protoTCP = 6
	protoUDP = 17
)

var errNotKnock = errors.New("not a TCP or UDP packet")

// parseIP decodes an IPv4 or IPv6 packet that starts at the network
// header, as a cooked packet socket delivers it. Like knockd it does not
// follow IPv6 extension headers. It never panics on short or malformed
// input; such packets are refused.
func parseIP(b []byte, now time.Time) (Packet, error) {
	p := Packet{Time: now}
	if len(b) < 1 {
		return p, errNotKnock
	}
	var proto byte
	var l4 []byte
	switch b[0] >> 4 {
	case 4:
		if len(b) < 20 {
			return p, errNotKnock
		}
		ihl := int(b[0]&0x0f) * 4
		if ihl < 20 || len(b) < ihl {
			return p, errNotKnock
		}
		// A non-first fragment carries no transport header.
		if binary.BigEndian.Uint16(b[6:8])&0x1fff != 0 {
			return p, errNotKnock
		}
		proto = b[9]
		p.Src = netip.AddrFrom4([4]byte(b[12:16]))
		p.Dst = netip.AddrFrom4([4]byte(b[16:20]))
		l4 = b[ihl:]
	case 6:
		if len(b) < 40 {
			return p, errNotKnock
		}
		proto = b[6]
		p.Src = netip.AddrFrom16([16]byte(b[8:24]))
		p.Dst = netip.AddrFrom16([16]byte(b[24:40]))
		l4 = b[40:]
	default:
		return p, errNotKnock
	}
	switch proto {
	case protoTCP:
		if len(l4) < 14 {
			return p, errNotKnock
		}
		p.Proto = seq.TCP
		p.Flags = l4[13] & 0x3f
	case protoUDP:
		if len(l4) < 4 {
			return p, errNotKnock
		}
		p.Proto = seq.UDP
	default:
		return p, errNotKnock
	}
	p.Port = binary.BigEndian.Uint16(l4[2:4])
	return p, nil
}
