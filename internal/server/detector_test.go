package server

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/a-knock/knock/internal/seq"
)

var (
	srvIP = netip.MustParseAddr("198.51.100.2")
	cliA  = netip.MustParseAddr("198.51.100.1")
	cliB  = netip.MustParseAddr("2001:db8::1")
	t0    = time.Unix(1_000_000, 0)
)

func mkDoor(name, sq, flags string, timeout int64) *door {
	s, err := seq.Parse(seq.TCP, sq)
	if err != nil {
		panic(err)
	}
	f, err := seq.ParseFlags(flags)
	if err != nil {
		panic(err)
	}
	return &door{name: name, seq: s, flags: f, timeout: timeout}
}

// pkt is a scripted packet: "A 7000" (tcp SYN), "B 7000:udp", "A 7000 fin",
// at offset ms after t0.
type pkt struct {
	src   netip.Addr
	knock string
	flags uint8
	at    time.Duration
}

func run(d *Detector, ps []pkt) map[string]int {
	opened := map[string]int{}
	d.onStep = func(a *attempt, ok bool) {
		if ok {
			opened[a.door.name+"@"+a.src.String()]++
		}
	}
	for _, p := range ps {
		k, err := seq.ParseKnock(p.knock, seq.TCP)
		if err != nil {
			panic(err)
		}
		fl := p.flags
		if k.Proto == seq.TCP && fl == 0 {
			fl = seq.SYN
		}
		if k.Proto == seq.UDP {
			fl = 0
		}
		d.Handle(Packet{Src: p.src, Dst: srvIP, Proto: k.Proto, Port: k.Port, Flags: fl, Time: t0.Add(p.at)})
	}
	return opened
}

func seqOf(src netip.Addr, gap time.Duration, knocks ...string) []pkt {
	var ps []pkt
	for i, k := range knocks {
		ps = append(ps, pkt{src: src, knock: k, at: time.Duration(i) * gap})
	}
	return ps
}

func TestServeDetector(t *testing.T) {
	a := func() *door { return mkDoor("a", "7001,7002,7003", "syn", 5) }
	ms := time.Millisecond
	tests := []struct {
		name  string
		doors []*door
		pkts  []pkt
		want  map[string]int
	}{
		{"in order", []*door{a()}, seqOf(cliA, ms, "7001", "7002", "7003"), map[string]int{"a@198.51.100.1": 1}},
		{"wrong order", []*door{a()}, seqOf(cliA, ms, "7003", "7002", "7001"), map[string]int{}},
		{"foreign port ignored", []*door{a()}, seqOf(cliA, ms, "7001", "22", "7002", "9999:udp", "7003"), map[string]int{"a@198.51.100.1": 1}},
		{"wrong port kills", []*door{a()}, seqOf(cliA, ms, "7001", "7003", "7002", "7003"), map[string]int{}},
		{"killed then fresh", []*door{a()}, seqOf(cliA, ms, "7001", "7003", "7001", "7002", "7003"), map[string]int{"a@198.51.100.1": 1}},
		{"wrong protocol kills", []*door{a(), mkDoor("u", "7002:udp,7009", "", 5)}, seqOf(cliA, ms, "7001", "7002:udp", "7002", "7003"), map[string]int{}},
		{"retransmitted SYN kills", []*door{a()}, seqOf(cliA, ms, "7001", "7002", "7002", "7003"), map[string]int{}},
		{"flags mismatch ignored", []*door{a()}, []pkt{{cliA, "7001", 0, 0}, {cliA, "7002", seq.ACK, 1 * ms}, {cliA, "7002", 0, 2 * ms}, {cliA, "7003", 0, 3 * ms}}, map[string]int{"a@198.51.100.1": 1}},
		{"fin door ignores SYN", []*door{mkDoor("f", "7001,7002", "fin,!ack", 5)}, seqOf(cliA, ms, "7001", "7002"), map[string]int{}},
		{"fin door", []*door{mkDoor("f", "7001,7002", "fin,!ack", 5)}, []pkt{{cliA, "7001", seq.FIN, 0}, {cliA, "7002", seq.FIN | seq.PSH, ms}}, map[string]int{"f@198.51.100.1": 1}},
		{"udp", []*door{mkDoor("u", "7001:udp,7002:udp", "syn", 5)}, seqOf(cliA, ms, "7001:udp", "7002:udp"), map[string]int{"u@198.51.100.1": 1}},
		{"timeout from first knock", []*door{mkDoor("a", "7001,7002,7003", "", 2)}, []pkt{{cliA, "7001", 0, 0}, {cliA, "7002", 0, 1900 * ms}, {cliA, "7003", 0, 2000 * ms}}, map[string]int{}},
		{"timeout whole seconds", []*door{mkDoor("a", "7001,7002", "", 1)}, []pkt{{cliA, "7001", 0, 900 * ms}, {cliA, "7002", 0, 1000 * ms}}, map[string]int{}},
		{"within timeout", []*door{mkDoor("a", "7001,7002", "", 2)}, []pkt{{cliA, "7001", 0, 0}, {cliA, "7002", 0, 1999 * ms}}, map[string]int{"a@198.51.100.1": 1}},
		{"timed out packet starts afresh", []*door{mkDoor("a", "7001,7002", "", 1)}, []pkt{{cliA, "7001", 0, 0}, {cliA, "7001", 0, 3000 * ms}, {cliA, "7002", 0, 3001 * ms}}, map[string]int{"a@198.51.100.1": 1}},
		{"parallel doors", []*door{a(), mkDoor("b", "7001,7004,7005", "syn", 5)}, seqOf(cliA, ms, "7001", "7004", "7005"), map[string]int{"b@198.51.100.1": 1}},
		{"two knockers interleaved", []*door{a()}, []pkt{{cliA, "7001", 0, 0}, {cliB, "7001", 0, 1 * ms}, {cliA, "7002", 0, 2 * ms}, {cliB, "7002", 0, 3 * ms}, {cliA, "7003", 0, 4 * ms}, {cliB, "7003", 0, 5 * ms}},
			map[string]int{"a@198.51.100.1": 1, "a@2001:db8::1": 1}},
		{"other knocker cannot break", []*door{a()}, []pkt{{cliA, "7001", 0, 0}, {cliB, "7003", 0, 1 * ms}, {cliA, "7002", 0, 2 * ms}, {cliB, "7001", 0, 3 * ms}, {cliA, "7003", 0, 4 * ms}},
			map[string]int{"a@198.51.100.1": 1}},
		{"one-knock door", []*door{mkDoor("one", "7001", "", 5)}, seqOf(cliA, ms, "7001", "7001"), map[string]int{"one@198.51.100.1": 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newDetector(tc.doors, func(a netip.Addr) bool { return a == srvIP }, 0)
			got := run(d, tc.pkts)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("opened %v, want %v", got, tc.want)
			}
			checkIndexes(t, d)
		})
	}
}

func TestServeDetectorTarget(t *testing.T) {
	dr := mkDoor("a", "7001,7002", "", 5)
	dr.target = netip.MustParseAddr("198.51.100.9")
	d := newDetector([]*door{dr}, func(a netip.Addr) bool { return a == srvIP }, 0)
	if got := run(d, seqOf(cliA, time.Millisecond, "7001", "7002")); len(got) != 0 {
		t.Errorf("door with a target opened for packets to another address: %v", got)
	}
	opened := 0
	d.onStep = func(_ *attempt, ok bool) {
		if ok {
			opened++
		}
	}
	for i, port := range []uint16{7001, 7002} {
		d.Handle(Packet{Src: cliA, Dst: dr.target, Proto: seq.TCP, Port: port, Flags: seq.SYN, Time: t0.Add(time.Duration(i+10) * time.Second)})
	}
	if opened != 1 {
		t.Errorf("door did not open for packets to its target")
	}
}

// TestDetectorFlood checks that memory stays bounded under a flood of
// first knocks from many sources, and that a real knocker still gets in
// once the flood stops.
func TestServeDetectorFlood(t *testing.T) {
	d := newDetector([]*door{mkDoor("a", "7001,7002,7003", "", 30)}, nil, 1000)
	for i := 0; i < 50000; i++ {
		src := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		d.Handle(Packet{Src: src, Proto: seq.TCP, Port: 7001, Flags: seq.SYN, Time: t0})
	}
	st := d.Stats()
	if st.Tracked > 1000 || st.Evicted != 49000 || len(d.bySrc) > 1000 {
		t.Fatalf("stats %+v, %d sources", st, len(d.bySrc))
	}
	got := run(d, seqOf(cliA, time.Millisecond, "7001", "7002", "7003"))
	if got["a@198.51.100.1"] != 1 {
		t.Errorf("knock after the flood did not open: %v", got)
	}
}

func FuzzParseIP(f *testing.F) {
	v4 := []byte{0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 198, 51, 100, 1, 198, 51, 100, 2,
		0x80, 0x00, 0x1b, 0x59, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0}
	f.Add(v4)
	v6 := make([]byte, 48)
	v6[0] = 0x60
	v6[6] = 17
	v6[42], v6[43] = 0x1b, 0x59
	f.Add(v6)
	f.Add([]byte{0x4f})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parseIP(b, t0)
		if err == nil && !p.Src.IsValid() {
			t.Fatal("valid packet without source")
		}
		d := newDetector([]*door{mkDoor("a", "7001,7001:udp", "", 5)}, nil, 10)
		d.Handle(p)
	})
}

func TestServeParseIP(t *testing.T) {
	v4 := []byte{0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 198, 51, 100, 1, 198, 51, 100, 2,
		0x80, 0x00, 0x1b, 0x59, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x11, 0xff, 0xff, 0, 0, 0, 0}
	p, err := parseIP(v4, t0)
	if err != nil || p.Src != cliA || p.Dst != srvIP || p.Port != 7001 || p.Proto != seq.TCP || p.Flags != seq.FIN|seq.ACK {
		t.Fatalf("%+v %v", p, err)
	}
	frag := append([]byte(nil), v4...)
	frag[7] = 1 // fragment offset 8
	if _, err := parseIP(frag, t0); err == nil {
		t.Error("non-first fragment accepted")
	}
}

// floodSrc is the i-th spoofed flood source, never a test client.
func floodSrc(i int) netip.Addr {
	return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0xf1, 0, 0, 0, 0, 0, 0, 0, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)})
}

// evStep is one step of an eviction script: a knock by src, or, when n
// is set, n new flood sources each sending ports in turn.
type evStep struct {
	src   netip.Addr
	n     int
	ports []uint16
	at    time.Duration
}

func knockAt(src netip.Addr, port uint16, at time.Duration) evStep {
	return evStep{src: src, ports: []uint16{port}, at: at}
}

func floodAt(n int, at time.Duration, ports ...uint16) evStep {
	return evStep{n: n, ports: ports, at: at}
}

// TestServeDetectorEviction checks which attempts a full table drops:
// under a flood of first knocks from ever new sources, an attempt past
// its first knock survives; first knocks compete among themselves, oldest
// out first; finished attempts go before live ones; and the table never
// holds more than its bound.
func TestServeDetectorEviction(t *testing.T) {
	const max = 1000
	ms, s := time.Millisecond, time.Second
	a3 := func() []*door { return []*door{mkDoor("a", "7001,7002,7003", "", 30)} }
	// legit3 is cliA's sequence from off on, gap apart, with flood1 and
	// flood2 first knocks from new sources between its knocks.
	legit3 := func(off, gap time.Duration, flood1, flood2 int) []evStep {
		return []evStep{
			knockAt(cliA, 7001, off), floodAt(flood1, off+gap/2, 7001),
			knockAt(cliA, 7002, off+gap), floodAt(flood2, off+gap*3/2, 7001),
			knockAt(cliA, 7003, off+2*gap),
		}
	}
	// Where a flood overflows the table, it evicts all but the room
	// left: max minus cliA and the flood sources before.
	tests := []struct {
		name     string
		doors    []*door
		steps    []evStep
		want     int    // sequences cliA completes
		evicted  uint64 // live attempts dropped
		advanced uint64 // of which past their first knock
	}{
		{"no flood", a3(), legit3(0, 300*ms, 0, 0), 1, 0, 0},
		{"flood fits the table", a3(), legit3(0, 300*ms, max-1, 0), 1, 0, 0},
		{"advanced attempt survives a flood", a3(), legit3(0, 300*ms, max/2, 50*max), 1, 50*max - (max - 1 - max/2), 0},
		{"advanced attempt survives floods between each knock", []*door{mkDoor("a", "7001,7002,7003,7004", "", 30)},
			[]evStep{
				knockAt(cliA, 7001, 0), floodAt(max/2, 100*ms, 7001),
				knockAt(cliA, 7002, 300*ms), floodAt(20*max, 400*ms, 7001),
				knockAt(cliA, 7003, 600*ms), floodAt(20*max, 700*ms, 7001),
				knockAt(cliA, 7004, 900*ms),
			}, 1, 40*max - (max - 1 - max/2), 0},
		// A first knock is worth no more than a spoofed one: max first
		// knocks after it push it out.
		{"first knock evicted by max first knocks", a3(), legit3(0, 300*ms, max, 0), 0, 1, 0},
		// The table full of advanced attempts: the oldest goes.
		{"advanced attempts evict the oldest advanced", a3(),
			append([]evStep{knockAt(cliA, 7001, 0), knockAt(cliA, 7002, ms), floodAt(max, 2*ms, 7001, 7002)},
				knockAt(cliA, 7003, 3*ms)), 0, 1, 1},
		// Timed-out attempts past their first knock go before a live
		// first knock.
		{"timed-out advanced attempts go first", a3(),
			append([]evStep{floodAt(max/2, 0, 7001, 7002)}, legit3(40*s, 300*ms, max-1, 0)...), 1, 0, 0},
		// Killed attempts are gone at once: a flood that kills its own
		// attempts (first knock twice) never fills the table.
		{"killed attempts take no room", a3(),
			[]evStep{knockAt(cliA, 7001, 0), knockAt(cliA, 7002, ms), floodAt(50*max, 2*ms, 7001, 7001), knockAt(cliA, 7003, 3*ms)}, 1, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newDetector(tc.doors, nil, max)
			opened := 0
			d.onStep = func(a *attempt, ok bool) {
				if ok && a.src == cliA {
					opened++
				}
			}
			src := 0
			for _, st := range tc.steps {
				if st.n == 0 {
					d.Handle(Packet{Src: st.src, Proto: seq.TCP, Port: st.ports[0], Flags: seq.SYN, Time: t0.Add(st.at)})
					continue
				}
				for j := 0; j < st.n; j++ {
					for _, port := range st.ports {
						d.Handle(Packet{Src: floodSrc(src), Proto: seq.TCP, Port: port, Flags: seq.SYN, Time: t0.Add(st.at)})
					}
					src++
					if stats := d.Stats(); stats.Tracked > max || len(d.bySrc) > max {
						t.Fatalf("after %d flood sources: %d attempts tracked, %d sources, bound %d", src, stats.Tracked, len(d.bySrc), max)
					}
					if src%997 == 0 {
						checkIndexes(t, d)
					}
				}
			}
			checkIndexes(t, d)
			if opened != tc.want {
				t.Errorf("cliA opened %d times, want %d (stats %+v)", opened, tc.want, d.Stats())
			}
			if st := d.Stats(); st.Evicted != tc.evicted || st.EvictedAdvanced != tc.advanced {
				t.Errorf("evicted %d (%d advanced), want %d (%d) (stats %+v)", st.Evicted, st.EvictedAdvanced, tc.evicted, tc.advanced, st)
			}
		})
	}
}

// checkIndexes checks that the per-source chains and the stage queues hold
// the same live attempts, as many as Stats.Tracked says.
func checkIndexes(t *testing.T, d *Detector) {
	t.Helper()
	inSrc := map[*attempt]bool{}
	for src, a := range d.bySrc {
		if a == nil {
			t.Fatalf("source %s with no attempt", src)
		}
		for ; a != nil; a = a.sib {
			if a.src != src || inSrc[a] || a.done || a.stage < 1 {
				t.Fatalf("bad attempt %+v in the chain of %s", a, src)
			}
			inSrc[a] = true
		}
	}
	n := 0
	for k, q := range d.stages {
		var prev *attempt
		for a := q.head; a != nil; a = a.next {
			if a.stage != k || !a.queued || a.prev != prev || !inSrc[a] {
				t.Fatalf("bad attempt %+v in stage %d", a, k)
			}
			prev = a
			n++
		}
		if q.tail != prev {
			t.Fatalf("stage %d: tail %p, last %p", k, q.tail, prev)
		}
	}
	if n != len(inSrc) || n != d.Stats().Tracked {
		t.Fatalf("%d attempts in the stages, %d in the source chains, %d tracked", n, len(inSrc), d.Stats().Tracked)
	}
}

// refModel is knockd's sniff() loop as knockd-behaviour.md describes it,
// with no bound and lazy clean-up: every finished attempt of a source
// stays until that source's next packet. FuzzServeDetectorModel checks
// the Detector against it.
type refModel struct {
	doors []*door
	bySrc map[netip.Addr][]*refAttempt
}

type refAttempt struct {
	door  *door
	stage int
	start int64
	done  bool
}

func (m *refModel) handle(p Packet) (opened []string) {
	relevant := false
	for _, dr := range m.doors {
		relevant = relevant || dr.has(&p) && dr.matchFlags(&p)
	}
	if !relevant {
		return nil
	}
	now := p.Time.Unix()
	var live []*refAttempt
	for _, a := range m.bySrc[p.Src] {
		if !a.done && a.stage >= 0 && now-a.start < a.door.timeout {
			live = append(live, a)
		}
	}
	m.bySrc[p.Src] = live
	knock := seq.Knock{Port: p.Port, Proto: p.Proto}
	step := func(a *refAttempt) {
		a.stage++
		if a.stage == len(a.door.seq) {
			a.done = true
			opened = append(opened, a.door.name+"@"+p.Src.String())
		}
	}
	if len(live) > 0 {
		for _, a := range live {
			switch {
			case !a.door.matchFlags(&p):
			case a.door.seq[a.stage] == knock:
				step(a)
			default:
				a.stage = -1
			}
		}
		return opened
	}
	for _, dr := range m.doors {
		if dr.seq[0] == knock && dr.matchFlags(&p) {
			a := &refAttempt{door: dr, start: now}
			m.bySrc[p.Src] = append(m.bySrc[p.Src], a)
			step(a)
		}
	}
	return opened
}

// FuzzServeDetectorModel plays a packet script (two bytes a packet:
// source, port, protocol and flags; then time) through the Detector and
// the reference model. With room for everything the Detector opens
// exactly what the model opens; with a tiny table its indexes stay
// consistent and within the bound.
func FuzzServeDetectorModel(f *testing.F) {
	f.Add([]byte{0x00, 1, 0x04, 1, 0x08, 1})                    // a in order
	f.Add([]byte{0x00, 1, 0x0c, 1, 0x01, 1, 0x05, 20, 0x09, 1}) // b; a from another source, too slow
	f.Add([]byte{0x38, 0, 0x30, 3, 0x04, 1, 0x00, 1})           // c over udp and tcp; a udp packet to no door
	f.Add([]byte{0x80, 1, 0x00, 1, 0x44, 1, 0x04, 1, 0x08, 1})  // flags that do not match
	f.Fuzz(func(t *testing.T, script []byte) {
		if len(script) > 400 {
			script = script[:400]
		}
		doors := func() []*door {
			return []*door{
				mkDoor("a", "7001,7002,7003", "syn", 2),
				mkDoor("b", "7001,7004", "syn,!ack", 1),
				mkDoor("c", "7003:udp,7002,7001", "", 3),
				mkDoor("d", "7004", "", 1),
			}
		}
		local := func(a netip.Addr) bool { return a == srvIP }
		m := &refModel{doors: doors(), bySrc: map[netip.Addr][]*refAttempt{}}
		big := newDetector(doors(), local, 1000)
		tiny := newDetector(doors(), local, 3)
		var got []string
		big.onStep = func(a *attempt, ok bool) {
			if ok {
				got = append(got, a.door.name+"@"+a.src.String())
			}
		}
		srcs := []netip.Addr{cliA, cliB, floodSrc(1), floodSrc(2)}
		flags := []uint8{seq.SYN, seq.SYN, seq.ACK, seq.SYN | seq.ACK}
		at := t0
		for i := 0; i+1 < len(script); i += 2 {
			b, c := script[i], script[i+1]
			p := Packet{Src: srcs[b&3], Dst: srvIP, Port: 7001 + uint16(b>>2&3), Proto: seq.TCP, Flags: flags[b>>6]}
			if b&0x20 != 0 {
				p.Proto, p.Flags = seq.UDP, 0
			}
			at = at.Add(time.Duration(c&0x3f) * 100 * time.Millisecond)
			p.Time = at
			want := m.handle(p)
			got = got[:0]
			big.Handle(p)
			tiny.Handle(p)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("packet %d %+v: opened %v, the model %v", i/2, p, got, want)
			}
			if tr := tiny.Stats().Tracked; tr > 3 {
				t.Fatalf("packet %d: %d attempts tracked, bound 3", i/2, tr)
			}
			checkIndexes(t, big)
			checkIndexes(t, tiny)
		}
	})
}
