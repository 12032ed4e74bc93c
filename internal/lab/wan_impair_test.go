//go:build linux

package lab

import (
	"bytes"
	"encoding/binary"
	"math"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// Unit tests of the emulator's decisions and frame parser: no root, no
// namespaces, a made-up clock.

func ethFrame(etype uint16, payload []byte) []byte {
	b := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, byte(etype >> 8), byte(etype)}
	return append(b, payload...)
}

func ipv4Frame(proto byte, fragOff uint16, l4 []byte) []byte {
	h := make([]byte, 20)
	h[0] = 0x45
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(l4)))
	binary.BigEndian.PutUint16(h[6:], fragOff)
	h[8], h[9] = 64, proto
	copy(h[12:], ClientIP4.AsSlice())
	copy(h[16:], ServerIP4.AsSlice())
	return ethFrame(0x0800, append(h, l4...))
}

func ipv6Frame(next byte, payload []byte) []byte {
	h := make([]byte, 40)
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(payload)))
	h[6], h[7] = next, 64
	copy(h[8:], ClientIP6.AsSlice())
	copy(h[24:], ServerIP6.AsSlice())
	return ethFrame(0x86dd, append(h, payload...))
}

func udpHdr(sport, dport int) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint16(b[0:], uint16(sport))
	binary.BigEndian.PutUint16(b[2:], uint16(dport))
	binary.BigEndian.PutUint16(b[4:], 8)
	return b
}

func tcpHdr(sport, dport int, flags byte) []byte {
	b := make([]byte, 20)
	binary.BigEndian.PutUint16(b[0:], uint16(sport))
	binary.BigEndian.PutUint16(b[2:], uint16(dport))
	b[12], b[13] = 5<<4, flags
	return b
}

// extHdr is an IPv6 extension header of 8 bytes (hop-by-hop, destination
// options) followed by next.
func extHdr(next byte) []byte { return []byte{next, 0, 1, 4, 0, 0, 0, 0} }

// fragHdr is an IPv6 fragment header at offset (in 8-byte units).
func fragHdr(next byte, offset uint16) []byte {
	b := []byte{next, 0, 0, 0, 0, 0, 0, 1}
	binary.BigEndian.PutUint16(b[2:], offset<<3)
	return b
}

var (
	arpFrame = ethFrame(0x0806, make([]byte, 28))
	nsFrame  = ipv6Frame(58, []byte{135, 0, 0, 0, 0, 0, 0, 0})
)

func udp4(dport int) []byte { return ipv4Frame(17, 0, udpHdr(40000, dport)) }

func TestParseFrame(t *testing.T) {
	a4 := func(p Packet) bool { return p.Src == ClientIP4 && p.Dst == ServerIP4 }
	a6 := func(p Packet) bool { return p.Src == ClientIP6 && p.Dst == ServerIP6 }
	tests := []struct {
		name    string
		frame   []byte
		control bool
		want    Packet // Len and addresses not compared
		addrs   func(Packet) bool
	}{
		{"runt", []byte{1, 2, 3}, true, Packet{}, nil},
		{"arp", arpFrame, true, Packet{EtherType: 0x0806}, nil},
		{"ipv4 udp", udp4(7000), false, Packet{EtherType: 0x0800, Version: 4, Proto: 17, SrcPort: 40000, DstPort: 7000}, a4},
		{"ipv4 tcp syn", ipv4Frame(6, 0, tcpHdr(40001, 22, 0x02)), false,
			Packet{EtherType: 0x0800, Version: 4, Proto: 6, SrcPort: 40001, DstPort: 22, TCPFlags: 0x02}, a4},
		{"ipv4 padded", append(ipv4Frame(17, 0, udpHdr(1, 2)), 0, 0, 0, 0, 0, 0), false,
			Packet{EtherType: 0x0800, Version: 4, Proto: 17, SrcPort: 1, DstPort: 2}, a4},
		{"ipv4 later fragment", ipv4Frame(17, 100, udpHdr(1, 2)), false, Packet{EtherType: 0x0800, Version: 4, Proto: 17}, a4},
		{"ipv4 first fragment", ipv4Frame(17, 0x2000, udpHdr(1, 2)), false,
			Packet{EtherType: 0x0800, Version: 4, Proto: 17, SrcPort: 1, DstPort: 2}, a4},
		{"ipv4 icmp", ipv4Frame(1, 0, []byte{8, 0, 0, 0}), false, Packet{EtherType: 0x0800, Version: 4, Proto: 1}, a4},
		{"ipv4 cut short", udp4(7000)[:30], false, Packet{EtherType: 0x0800}, nil},
		{"ipv4 tcp cut short", ipv4Frame(6, 0, tcpHdr(5, 6, 0x02)[:10]), false,
			Packet{EtherType: 0x0800, Version: 4, Proto: 6, SrcPort: 5, DstPort: 6}, a4},
		{"ipv6 tcp", ipv6Frame(6, tcpHdr(40002, 22, 0x12)), false,
			Packet{EtherType: 0x86dd, Version: 6, Proto: 6, SrcPort: 40002, DstPort: 22, TCPFlags: 0x12}, a6},
		{"ipv6 hop-by-hop then udp", ipv6Frame(0, append(extHdr(17), udpHdr(3, 4)...)), false,
			Packet{EtherType: 0x86dd, Version: 6, Proto: 17, SrcPort: 3, DstPort: 4}, a6},
		{"ipv6 first fragment", ipv6Frame(44, append(fragHdr(17, 0), udpHdr(3, 4)...)), false,
			Packet{EtherType: 0x86dd, Version: 6, Proto: 17, SrcPort: 3, DstPort: 4}, a6},
		{"ipv6 later fragment", ipv6Frame(44, append(fragHdr(17, 9), udpHdr(3, 4)...)), false,
			Packet{EtherType: 0x86dd, Version: 6, Proto: 17}, a6},
		{"ipv6 extension cut short", ipv6Frame(60, []byte{17}), false, Packet{EtherType: 0x86dd, Version: 6, Proto: 60}, a6},
		{"ipv6 neighbour solicitation", nsFrame, true, Packet{EtherType: 0x86dd, Version: 6, Proto: 58}, a6},
		{"ipv6 router advertisement", ipv6Frame(58, []byte{134, 0}), true, Packet{EtherType: 0x86dd, Version: 6, Proto: 58}, a6},
		{"ipv6 echo request", ipv6Frame(58, []byte{128, 0}), false, Packet{EtherType: 0x86dd, Version: 6, Proto: 58}, a6},
		{"ipv6 mld behind hop-by-hop", ipv6Frame(0, append(extHdr(58), 143, 0)), false,
			Packet{EtherType: 0x86dd, Version: 6, Proto: 58}, a6},
		{"ipv6 cut short", ipv6Frame(6, nil)[:40], false, Packet{EtherType: 0x86dd}, nil},
		{"vlan", ethFrame(0x8100, make([]byte, 40)), true, Packet{EtherType: 0x8100}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, control := parseFrame(tt.frame)
			if control != tt.control {
				t.Errorf("control = %v, want %v", control, tt.control)
			}
			if p.Len != len(tt.frame) {
				t.Errorf("Len = %d, want %d", p.Len, len(tt.frame))
			}
			if tt.addrs != nil && !tt.addrs(p) {
				t.Errorf("addresses %v -> %v", p.Src, p.Dst)
			}
			p.Len, p.Src, p.Dst = 0, netip.Addr{}, netip.Addr{}
			if p != tt.want {
				t.Errorf("got %+v, want %+v", p, tt.want)
			}
		})
	}
}

func FuzzParseFrame(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		orig := bytes.Clone(b)
		p, control := parseFrame(b)
		if !bytes.Equal(b, orig) {
			t.Fatal("parseFrame changed its input")
		}
		if p.Len != len(b) {
			t.Fatalf("Len %d for %d bytes", p.Len, len(b))
		}
		switch p.Version {
		case 0:
			if p.Src.IsValid() || p.Proto != 0 || p.DstPort != 0 {
				t.Fatalf("not IP, yet %+v", p)
			}
		case 4:
			if !p.Src.Is4() || !p.Dst.Is4() || control {
				t.Fatalf("IPv4 %+v control %v", p, control)
			}
		case 6:
			if !p.Src.Is6() || !p.Dst.Is6() {
				t.Fatalf("IPv6 %+v", p)
			}
			if control && p.Proto != 58 {
				t.Fatalf("IPv6 control frame that is not ICMPv6: %+v", p)
			}
		default:
			t.Fatalf("version %d", p.Version)
		}
		if p.Proto != 6 && p.Proto != 17 && (p.SrcPort != 0 || p.DstPort != 0) {
			t.Fatalf("ports without TCP or UDP: %+v", p)
		}
		if p.Proto != 6 && p.TCPFlags != 0 {
			t.Fatalf("TCP flags without TCP: %+v", p)
		}
	})
}

func TestFilters(t *testing.T) {
	syn := ipv4Frame(6, 0, tcpHdr(1, 7000, 0x02))
	fin := ipv4Frame(6, 0, tcpHdr(1, 7000, 0x01))
	ack := ipv4Frame(6, 0, tcpHdr(1, 7000, 0x10))
	syn22 := ipv6Frame(6, tcpHdr(1, 22, 0x02))
	ack22 := ipv6Frame(6, tcpHdr(1, 22, 0x18))
	icmp := ipv4Frame(1, 0, []byte{8, 0})
	tests := []struct {
		name   string
		filter func(Packet) bool
		frame  []byte
		want   bool
	}{
		{"ToPorts udp", ToPorts(7000, 8000), udp4(8000), true},
		{"ToPorts other port", ToPorts(7000, 8000), udp4(9000), false},
		{"ToPorts tcp ack", ToPorts(7000), ack, true},
		{"ToPorts icmp", ToPorts(0), icmp, false},
		{"KnocksExcept syn", KnocksExcept(22), syn, true},
		{"KnocksExcept raw fin", KnocksExcept(22), fin, true},
		{"KnocksExcept udp", KnocksExcept(22), udp4(7000), true},
		{"KnocksExcept established", KnocksExcept(22), ack, false},
		{"KnocksExcept guarded syn", KnocksExcept(22), syn22, false},
		{"KnocksExcept guarded data", KnocksExcept(22), ack22, false},
		{"KnocksExcept icmp", KnocksExcept(22), icmp, false},
		{"KnocksExcept arp", KnocksExcept(22), arpFrame, false},
	}
	for _, tt := range tests {
		p, _ := parseFrame(tt.frame)
		if got := tt.filter(p); got != tt.want {
			t.Errorf("%s: %+v: got %v, want %v", tt.name, p, got, tt.want)
		}
	}
	if p, _ := parseFrame(syn); !p.SYN() {
		t.Error("SYN() false for a SYN")
	}
	if p, _ := parseFrame(ipv4Frame(6, 0, tcpHdr(1, 2, 0x12))); p.SYN() {
		t.Error("SYN() true for a SYN+ACK")
	}
}

func TestImpairmentValidate(t *testing.T) {
	bad := []Impairment{
		{Delay: -1},
		{Jitter: -time.Millisecond},
		{ReorderGap: -1},
		{Loss: 1.5},
		{Duplicate: -0.1},
		{Reorder: math.NaN()},
		{Dist: 7},
	}
	for _, im := range bad {
		if im.validate() == nil {
			t.Errorf("%+v accepted", im)
		}
	}
	good := Impairment{Delay: time.Second, Jitter: time.Millisecond, Dist: JitterNormal, Loss: 1, Duplicate: 0, Reorder: 0.5}
	if err := good.validate(); err != nil {
		t.Error(err)
	}
}

// binomBounds returns lo and hi such that a Binomial(n, p) count falls
// below lo, or above hi, each with probability at most alpha.
func binomBounds(n int, p, alpha float64) (lo, hi int) {
	pmf := func(k int) float64 {
		if p == 0 {
			if k == 0 {
				return 1
			}
			return 0
		}
		a, _ := math.Lgamma(float64(n + 1))
		b, _ := math.Lgamma(float64(k + 1))
		c, _ := math.Lgamma(float64(n - k + 1))
		return math.Exp(a - b - c + float64(k)*math.Log(p) + float64(n-k)*math.Log1p(-p))
	}
	cum := 0.0
	for lo = 0; lo < n; lo++ {
		if cum+pmf(lo) > alpha {
			break
		}
		cum += pmf(lo)
	}
	cum = 0
	for hi = n; hi > 0; hi-- {
		if cum+pmf(hi) > alpha {
			break
		}
		cum += pmf(hi)
	}
	return lo, hi
}

func TestBinomBounds(t *testing.T) {
	lo, hi := binomBounds(3000, 0.02, 1e-6)
	if lo < 20 || lo > 35 || hi < 90 || hi > 110 {
		t.Errorf("binomBounds(3000, 0.02) = %d, %d", lo, hi)
	}
	if lo, hi := binomBounds(100, 0, 1e-6); lo != 0 || hi != 0 {
		t.Errorf("binomBounds(100, 0) = %d, %d", lo, hi)
	}
}

func checkBinom(t *testing.T, what string, got, n int, p float64) {
	t.Helper()
	lo, hi := binomBounds(n, p, 1e-6)
	if got < lo || got > hi {
		t.Errorf("%s: %d of %d, want %d..%d for p=%g", what, got, n, lo, hi, p)
	}
}

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// feed admits n frames from frame(i), one every spacing, and returns the
// order in which they leave (indices) and each one's delay (first copy).
func feed(m *impairer, im Impairment, n int, spacing time.Duration, frame func(i int) []byte) (order []int, delays []time.Duration) {
	delays = make([]time.Duration, n)
	for i := range delays {
		delays[i] = -1
	}
	tag := map[*byte]int{}
	now := t0
	var out [][]byte
	collect := func(until time.Time) {
		for {
			at, ok := m.next()
			if !ok || at.After(until) {
				return
			}
			out = m.due(at, out[:0])
			for _, f := range out {
				i := tag[&f[0]]
				order = append(order, i)
				if delays[i] < 0 {
					delays[i] = at.Sub(t0.Add(time.Duration(i) * spacing))
				}
			}
		}
	}
	for i := range n {
		now = t0.Add(time.Duration(i) * spacing)
		collect(now)
		f := frame(i)
		tag[&f[0]] = i
		m.admit(&im, f, now)
	}
	collect(now.Add(time.Hour))
	return order, delays
}

func lateCount(order []int) (late, dups int) {
	seen := map[int]bool{}
	top := -1
	for _, i := range order {
		switch {
		case seen[i]:
			dups++
		case i < top:
			late++
		}
		seen[i] = true
		top = max(top, i)
	}
	return late, dups
}

func TestImpairerJitter(t *testing.T) {
	const d, j = 75 * time.Millisecond, 15 * time.Millisecond
	tests := []struct {
		name     string
		dist     JitterDist
		min, max time.Duration
		sd       float64 // expected standard deviation in ms
	}{
		{"uniform", JitterUniform, d - j, d + j, 15 / math.Sqrt(3)},
		{"normal", JitterNormal, d - 3*j, d + 3*j, 15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newImpairer(1, ClientToServer)
			im := Impairment{Delay: d, Jitter: j, Dist: tt.dist}
			// Frames far apart: the order never holds one up.
			order, delays := feed(m, im, 5000, time.Second, func(int) []byte { return udp4(7) })
			if late, dups := lateCount(order); late != 0 || dups != 0 || len(order) != 5000 {
				t.Fatalf("late %d dups %d sent %d", late, dups, len(order))
			}
			var sum, sq float64
			for _, x := range delays {
				if x < tt.min || x > tt.max {
					t.Fatalf("delay %v outside %v..%v", x, tt.min, tt.max)
				}
				ms := float64(x) / 1e6
				sum += ms
				sq += ms * ms
			}
			mean := sum / 5000
			sd := math.Sqrt(sq/5000 - mean*mean)
			if math.Abs(mean-75) > 1 || math.Abs(sd-tt.sd) > 0.1*tt.sd {
				t.Errorf("mean %.2f ms sd %.2f ms, want 75 and %.2f", mean, sd, tt.sd)
			}
		})
	}
}

func TestImpairerKeepsOrder(t *testing.T) {
	m := newImpairer(2, ServerToClient)
	im := Impairment{Delay: 75 * time.Millisecond, Jitter: 15 * time.Millisecond}
	// 0.5 ms apart with ±15 ms jitter: without the FIFO rule, most frames
	// would overtake others.
	order, delays := feed(m, im, 10000, 500*time.Microsecond, func(int) []byte { return udp4(7) })
	if late, dups := lateCount(order); late != 0 || dups != 0 || len(order) != 10000 {
		t.Fatalf("late %d dups %d sent %d", late, dups, len(order))
	}
	for i, x := range delays {
		if x < 60*time.Millisecond {
			t.Fatalf("frame %d delayed %v, less than delay-jitter", i, x)
		}
	}
}

func TestImpairerFates(t *testing.T) {
	const n = 20000
	im := Impairment{Delay: 20 * time.Millisecond, Jitter: 5 * time.Millisecond,
		Loss: 0.02, Duplicate: 0.03, Reorder: 0.05}
	m := newImpairer(3, ClientToServer)
	order, _ := feed(m, im, n, 500*time.Microsecond, func(int) []byte { return udp4(7) })
	st := m.stats
	checkBinom(t, "lost", int(st.Lost), n, im.Loss)
	checkBinom(t, "duplicated", int(st.Duplicated), n-int(st.Lost), im.Duplicate)
	checkBinom(t, "reordered", int(st.Reordered), n-int(st.Lost), im.Reorder)
	late, dups := lateCount(order)
	// The default gap (10 ms past the jitter's spread) lets the next
	// frame, 0.5 ms behind, overtake every held one, but at the very end.
	if late > int(st.Reordered) || late < int(st.Reordered)-3 {
		t.Errorf("%d frames arrived late, %d held back", late, st.Reordered)
	}
	if dups != int(st.Duplicated) || len(order) != n-int(st.Lost)+dups {
		t.Errorf("%d sent, %d duplicates; stats %+v", len(order), dups, st)
	}
	if st.Frames != n || st.Overflow != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestImpairerSpares(t *testing.T) {
	all := Impairment{Loss: 1, Duplicate: 1, Reorder: 1}
	tests := []struct {
		name     string
		im       Impairment
		frame    []byte
		sent     int
		lost     uint64
		filtered bool
	}{
		{"arp", all, arpFrame, 1, 0, false},
		{"neighbour solicitation", all, nsFrame, 1, 0, false},
		{"ipv4", all, udp4(7000), 0, 1, false},
		{"filter accepts", Impairment{Loss: 1, Filter: ToPorts(7000)}, udp4(7000), 0, 1, true},
		{"filter refuses", Impairment{Loss: 1, Filter: ToPorts(7000)}, udp4(22), 1, 0, true},
		{"filter refuses duplicate", Impairment{Duplicate: 1, Filter: ToPorts(7000)}, udp4(22), 1, 0, true},
		{"filter accepts duplicate", Impairment{Duplicate: 1, Filter: ToPorts(7000)}, udp4(7000), 2, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newImpairer(4, ClientToServer)
			m.admit(&tt.im, tt.frame, t0)
			out := m.due(t0.Add(time.Hour), nil)
			if len(out) != tt.sent || m.stats.Lost != tt.lost {
				t.Errorf("sent %d lost %d, want %d and %d", len(out), m.stats.Lost, tt.sent, tt.lost)
			}
			for _, f := range out {
				if !bytes.Equal(f, tt.frame) {
					t.Error("frame changed")
				}
			}
		})
	}
}

func TestImpairerQueueLimit(t *testing.T) {
	m := newImpairer(5, ClientToServer)
	im := Impairment{Delay: time.Second}
	for range queueLimit + 10 {
		m.admit(&im, udp4(7), t0)
	}
	if m.stats.Overflow != 10 || len(m.q) != queueLimit {
		t.Errorf("overflow %d, queue %d", m.stats.Overflow, len(m.q))
	}
	if out := m.due(t0.Add(time.Second), nil); len(out) != queueLimit || m.bytes != 0 {
		t.Errorf("%d frames due, %d bytes left", len(out), m.bytes)
	}
	// Big frames meet the byte limit first.
	m = newImpairer(5, ClientToServer)
	big := make([]byte, 64<<10)
	for range 200 {
		m.admit(&im, big, t0)
	}
	if want := queueBytes / len(big); len(m.q) != want || int(m.stats.Overflow) != 200-want {
		t.Errorf("%d big frames queued, %d dropped; want %d queued", len(m.q), m.stats.Overflow, want)
	}
}

// With one seed, the n-th packet that loss applies to meets the same fate,
// whatever other frames pass in between.
func TestImpairerSeedReplays(t *testing.T) {
	im := Impairment{Delay: time.Millisecond, Jitter: time.Millisecond, Loss: 0.25, Filter: KnocksExcept(22)}
	fates := func(noise bool) []int {
		m := newImpairer(42, ClientToServer)
		var sent []int
		for i := range 400 {
			if noise && i%3 == 0 {
				m.admit(&im, arpFrame, t0)
				m.admit(&im, ipv4Frame(6, 0, tcpHdr(1, 22, 0x10)), t0)
			}
			f := udp4(7000 + i)
			m.admit(&im, f, t0)
			for _, g := range m.due(t0.Add(time.Hour), nil) {
				if p, _ := parseFrame(g); p.DstPort >= 7000 {
					sent = append(sent, p.DstPort)
				}
			}
		}
		return sent
	}
	a, b := fates(false), fates(true)
	if !slices.Equal(a, b) {
		t.Errorf("other traffic changed which packets were lost:\n%v\n%v", a, b)
	}
	checkBinom(t, "lost", 400-len(a), 400, 0.25)
}
