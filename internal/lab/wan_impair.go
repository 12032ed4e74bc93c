//go:build linux

package lab

import (
	"container/heap"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"
)

// Dir is a direction of traffic through the emulator of a WAN lab.
type Dir int

// The two directions of a WAN lab.
const (
	ClientToServer Dir = iota
	ServerToClient
)

func (d Dir) String() string {
	switch d {
	case ClientToServer:
		return "client->server"
	case ServerToClient:
		return "server->client"
	}
	return fmt.Sprintf("Dir(%d)", int(d))
}

// JitterDist is the distribution jitter is drawn from.
type JitterDist int

const (
	// JitterUniform draws jitter uniformly from [-Jitter, +Jitter].
	JitterUniform JitterDist = iota
	// JitterNormal draws jitter from a normal distribution with standard
	// deviation Jitter, cut off at ±3 Jitter.
	JitterNormal
)

// Impairment is what the emulator does to the frames of one direction.
//
// Every frame is held for Delay plus a jitter draw (never less than zero),
// and frames leave in the order they came: a frame's send time is the
// later of its own and that of the frame before it, so jitter alone never
// reorders. Loss, Duplicate and Reorder apply only to IP packets that
// Filter accepts (all IP packets when Filter is nil); frames that are not
// IP (ARP) and IPv6 neighbour discovery are only delayed, so a lab never
// loses its address resolution.
type Impairment struct {
	Delay  time.Duration // one-way base delay
	Jitter time.Duration // half-width (uniform) or standard deviation (normal)
	Dist   JitterDist

	Loss      float64 // probability that a packet is dropped
	Duplicate float64 // probability that a packet is sent twice, back to back
	// Reorder is the probability that a packet is held back ReorderGap
	// past its send time, without holding up the packets behind it: those
	// sent within the gap overtake it. A zero ReorderGap means 10 ms plus
	// the spread of the jitter (2 Jitter uniform, 6 Jitter normal), so that
	// every packet that follows within 10 ms overtakes it.
	Reorder    float64
	ReorderGap time.Duration

	// Filter, when set, limits Loss, Duplicate and Reorder to the packets
	// it accepts; Delay and Jitter apply to every frame. It runs on the
	// emulator's goroutine, once per frame, and must not block.
	Filter func(Packet) bool
}

func (im Impairment) validate() error {
	if im.Delay < 0 || im.Jitter < 0 || im.ReorderGap < 0 {
		return fmt.Errorf("wan: negative duration in %+v", im)
	}
	if im.Dist != JitterUniform && im.Dist != JitterNormal {
		return fmt.Errorf("wan: unknown jitter distribution %d", im.Dist)
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"loss", im.Loss}, {"duplicate", im.Duplicate}, {"reorder", im.Reorder}} {
		if !(p.v >= 0 && p.v <= 1) {
			return fmt.Errorf("wan: %s probability %v not in [0, 1]", p.name, p.v)
		}
	}
	return nil
}

// Packet is what a Filter learns about a frame.
type Packet struct {
	Len       int        // frame length in bytes
	EtherType uint16     // 0x0800 for IPv4, 0x86dd for IPv6
	Version   int        // 4 or 6; 0 for a frame that is not IP
	Src, Dst  netip.Addr // invalid when the header is cut short
	// Proto is the transport protocol (6 TCP, 17 UDP, 58 ICMPv6 ...),
	// after any IPv6 extension headers.
	Proto            int
	SrcPort, DstPort int   // TCP and UDP; 0 otherwise and in later fragments
	TCPFlags         uint8 // TCP header flags (FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10 ...)
}

// SYN reports whether p opens a TCP connection: SYN set and ACK clear.
func (p Packet) SYN() bool { return p.Proto == 6 && p.TCPFlags&0x12 == 0x02 }

// ToPorts returns a Filter that accepts TCP and UDP packets to any of
// ports.
func ToPorts(ports ...int) func(Packet) bool {
	ports = slices.Clone(ports)
	return func(p Packet) bool {
		return (p.Proto == 6 || p.Proto == 17) && p.DstPort != 0 && slices.Contains(ports, p.DstPort)
	}
}

// KnocksExcept returns a Filter that accepts knock packets: UDP datagrams
// and TCP segments without ACK (SYNs and raw-flag knocks) to any port but
// the guarded ones. Connections to the guarded ports (a --wait probe, ssh)
// and every packet of an established connection pass unharmed.
func KnocksExcept(guarded ...int) func(Packet) bool {
	guarded = slices.Clone(guarded)
	return func(p Packet) bool {
		knock := p.Proto == 17 || (p.Proto == 6 && p.TCPFlags&0x10 == 0)
		return knock && p.DstPort != 0 && !slices.Contains(guarded, p.DstPort)
	}
}

// parseFrame reads an Ethernet frame. control reports frames that must
// never be lost: those that are not IP, and IPv6 neighbour discovery.
func parseFrame(b []byte) (p Packet, control bool) {
	p.Len = len(b)
	if len(b) < 14 {
		return p, true
	}
	p.EtherType = binary.BigEndian.Uint16(b[12:14])
	b = b[14:]
	switch p.EtherType {
	case 0x0800:
		if len(b) < 20 || b[0]>>4 != 4 {
			return p, false
		}
		p.Version = 4
		p.Src = netip.AddrFrom4([4]byte(b[12:16]))
		p.Dst = netip.AddrFrom4([4]byte(b[16:20]))
		p.Proto = int(b[9])
		hl := int(b[0]&0x0f) * 4
		if total := int(binary.BigEndian.Uint16(b[2:4])); total >= hl && total < len(b) {
			b = b[:total] // Ethernet padding
		}
		if hl < 20 || hl > len(b) || binary.BigEndian.Uint16(b[6:8])&0x1fff != 0 {
			return p, false
		}
		parseTransport(&p, b[hl:])
		return p, false
	case 0x86dd:
		if len(b) < 40 || b[0]>>4 != 6 {
			return p, false
		}
		p.Version = 6
		p.Src = netip.AddrFrom16([16]byte(b[8:24]))
		p.Dst = netip.AddrFrom16([16]byte(b[24:40]))
		if n := int(binary.BigEndian.Uint16(b[4:6])); 40+n < len(b) {
			b = b[:40+n]
		}
		next, rest := b[6], b[40:]
		for range 8 { // extension headers, a bounded walk
			var n int
			switch next {
			case 0, 43, 60: // hop-by-hop, routing, destination options
				if len(rest) < 2 {
					p.Proto = int(next)
					return p, false
				}
				n = (int(rest[1]) + 1) * 8
			case 51: // authentication header
				if len(rest) < 2 {
					p.Proto = int(next)
					return p, false
				}
				n = (int(rest[1]) + 2) * 4
			case 44: // fragment
				if len(rest) < 8 {
					p.Proto = int(next)
					return p, false
				}
				if binary.BigEndian.Uint16(rest[2:4])>>3 != 0 {
					p.Proto = int(rest[0]) // a later fragment: no transport header
					return p, false
				}
				n = 8
			default:
				p.Proto = int(next)
				parseTransport(&p, rest)
				nd := p.Proto == 58 && len(rest) > 0 && rest[0] >= 133 && rest[0] <= 137
				return p, nd
			}
			if n > len(rest) {
				p.Proto = int(next)
				return p, false
			}
			next, rest = rest[0], rest[n:]
		}
		p.Proto = int(next)
		return p, false
	}
	return p, true
}

func parseTransport(p *Packet, b []byte) {
	if (p.Proto == 6 || p.Proto == 17) && len(b) >= 4 {
		p.SrcPort = int(binary.BigEndian.Uint16(b[0:2]))
		p.DstPort = int(binary.BigEndian.Uint16(b[2:4]))
	}
	if p.Proto == 6 && len(b) >= 14 {
		p.TCPFlags = b[13]
	}
}

// WANStats counts what the emulator did in one direction.
type WANStats struct {
	Frames     uint64 // frames read
	Sent       uint64 // frames written, duplicates included
	Lost       uint64 // dropped by Loss
	Duplicated uint64 // sent twice by Duplicate
	Reordered  uint64 // held back by Reorder
	Overflow   uint64 // dropped because the queue was full
	Errors     uint64 // failed reads and writes
	// KernelDrops counts frames the kernel dropped before the emulator
	// read them (its socket buffer was full).
	KernelDrops uint64
	// MaxLate is the most a frame left after its send time, and Late
	// counts frames that left more than a millisecond late: the emulator
	// was not scheduled in time (a busy machine).
	MaxLate time.Duration
	Late    uint64
}

// queueLimit and queueBytes bound the frames waiting in one direction; a
// flood beyond them is dropped (Overflow).
const (
	queueLimit = 4096
	queueBytes = 8 << 20
)

type queued struct {
	at    time.Time
	seq   uint64
	frame []byte
}

type frameHeap []queued

func (h frameHeap) Len() int { return len(h) }
func (h frameHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h frameHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *frameHeap) Push(x any)   { *h = append(*h, x.(queued)) }
func (h *frameHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = queued{}
	*h = old[:len(old)-1]
	return x
}

// impairer decides the fate and send time of each frame of one direction
// and keeps the frames until then. It is not safe for concurrent use.
//
// Two random streams: jitter draws for every frame, and fate draws, three
// for each packet Loss, Duplicate and Reorder apply to, whatever the
// settings. So with one seed the n-th such packet meets the same fate in
// every run, however much other traffic (ARP, retransmissions) there is.
type impairer struct {
	jitterRNG *rand.Rand
	fateRNG   *rand.Rand
	last      time.Time // send time of the last frame not held back
	seq       uint64
	q         frameHeap
	limit     int // frames
	bytes     int // bytes queued
	stats     WANStats
}

func newImpairer(seed uint64, d Dir) *impairer {
	return &impairer{
		jitterRNG: rand.New(rand.NewPCG(seed, uint64(2*d))),
		fateRNG:   rand.New(rand.NewPCG(seed, uint64(2*d+1))),
		limit:     queueLimit,
	}
}

func (m *impairer) jitter(im *Impairment) time.Duration {
	if im.Jitter == 0 {
		return 0
	}
	j := float64(im.Jitter)
	switch im.Dist {
	case JitterNormal:
		return time.Duration(max(-3*j, min(3*j, m.jitterRNG.NormFloat64()*j)))
	default:
		return time.Duration((2*m.jitterRNG.Float64() - 1) * j)
	}
}

// admit takes a frame read at now and queues it under im (or drops it).
func (m *impairer) admit(im *Impairment, frame []byte, now time.Time) {
	m.stats.Frames++
	p, control := parseFrame(frame)
	at := now.Add(max(0, im.Delay+m.jitter(im)))
	if at.Before(m.last) {
		at = m.last
	}
	var lose, dup, hold bool
	if !control && (im.Filter == nil || im.Filter(p)) {
		lose = m.fateRNG.Float64() < im.Loss
		dup = m.fateRNG.Float64() < im.Duplicate
		hold = m.fateRNG.Float64() < im.Reorder
	}
	if lose {
		m.stats.Lost++
		return
	}
	if hold {
		gap := im.ReorderGap
		if gap == 0 {
			spread := 2 * im.Jitter
			if im.Dist == JitterNormal {
				spread = 6 * im.Jitter
			}
			gap = 10*time.Millisecond + spread
		}
		at = at.Add(gap)
		m.stats.Reordered++
	} else {
		m.last = at
	}
	m.push(at, frame)
	if dup {
		m.stats.Duplicated++
		m.push(at, frame)
	}
}

func (m *impairer) push(at time.Time, frame []byte) {
	if len(m.q) >= m.limit || m.bytes+len(frame) > queueBytes {
		m.stats.Overflow++
		return
	}
	m.bytes += len(frame)
	m.seq++
	heap.Push(&m.q, queued{at: at, seq: m.seq, frame: frame})
}

// due appends the frames whose time has come by now to out, in order.
func (m *impairer) due(now time.Time, out [][]byte) [][]byte {
	for len(m.q) > 0 && !m.q[0].at.After(now) {
		q := heap.Pop(&m.q).(queued)
		late := now.Sub(q.at)
		m.stats.MaxLate = max(m.stats.MaxLate, late)
		if late > time.Millisecond {
			m.stats.Late++
		}
		m.bytes -= len(q.frame)
		out = append(out, q.frame)
	}
	return out
}

// next returns the send time of the first queued frame.
func (m *impairer) next() (time.Time, bool) {
	if len(m.q) == 0 {
		return time.Time{}, false
	}
	return m.q[0].at, true
}
