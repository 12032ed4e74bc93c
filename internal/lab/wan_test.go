//go:build linux

package lab

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Lab tests of the WAN emulator: what it is set to is what crosses it.

// udpIn opens a UDP socket on addr in namespace ns with a receive buffer
// big enough for a burst, closed at cleanup.
func udpIn(t testing.TB, ns, addr string) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	err := InNamespace(ns, func() error {
		a, err := net.ResolveUDPAddr("udp", addr)
		if err != nil {
			return err
		}
		c, err = net.ListenUDP("udp", a)
		return err
	})
	if err != nil {
		t.Fatalf("listen udp %s in %s: %v", addr, ns, err)
	}
	t.Cleanup(func() { c.Close() })
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20)
	}); err != nil || serr != nil {
		t.Fatalf("SO_RCVBUFFORCE: %v %v", err, serr)
	}
	return c
}

// recorder reads datagrams that start with a 4-byte sequence number and
// keeps their order of arrival.
type recorder struct {
	mu   sync.Mutex
	seqs []uint32
}

// record reads from c until c is closed.
func (r *recorder) record(c *net.UDPConn) {
	buf := make([]byte, 2048)
	for range 10_000_000 {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		if n < 4 {
			continue
		}
		r.mu.Lock()
		r.seqs = append(r.seqs, binary.BigEndian.Uint32(buf))
		r.mu.Unlock()
	}
}

// settle waits until nothing has arrived for 300 ms, at most 5 s.
func (r *recorder) settle() {
	n, quiet := r.count(), time.Now()
	WaitFor(5*time.Second, func() bool {
		if m := r.count(); m != n {
			n, quiet = m, time.Now()
		}
		return time.Since(quiet) > 300*time.Millisecond
	})
}

// since returns the sequence numbers received from index i on.
func (r *recorder) since(i int) []uint32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seqs[i:])
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seqs)
}

func datagram(seq uint32, size int) []byte {
	b := make([]byte, size)
	binary.BigEndian.PutUint32(b, seq)
	return b
}

// stream sends n datagrams numbered from first to dst at rate per second,
// paced against the clock, and returns when the last is sent.
func stream(t testing.TB, c *net.UDPConn, dst *net.UDPAddr, first uint32, n, rate int) {
	t.Helper()
	start := time.Now()
	for i := range n {
		if ahead := time.Duration(i)*time.Second/time.Duration(rate) - time.Since(start); ahead > time.Millisecond {
			time.Sleep(ahead)
		}
		if _, err := c.WriteToUDP(datagram(first+uint32(i), 64), dst); err != nil {
			t.Errorf("send %d: %v", i, err)
			return
		}
	}
}

// arrivals sums up what came of the n datagrams first..first+n-1.
type arrivals struct {
	got, late, dups int
}

func countArrivals(seqs []uint32, first uint32, n int) arrivals {
	var a arrivals
	seen := map[uint32]bool{}
	top := int64(-1)
	for _, s := range seqs {
		if s < first || s >= first+uint32(n) {
			continue
		}
		switch {
		case seen[s]:
			a.dups++
		case int64(s) < top:
			a.late++
			a.got++
		default:
			a.got++
		}
		seen[s] = true
		top = max(top, int64(s))
	}
	return a
}

// warmUp sends datagrams until one arrives, so that neighbour resolution
// is done before a measurement.
func warmUp(t testing.TB, c *net.UDPConn, dst *net.UDPAddr, r *recorder) {
	t.Helper()
	for i := range 40 {
		n := r.count()
		if _, err := c.WriteToUDP(datagram(1<<31+uint32(i), 64), dst); err != nil {
			t.Fatal(err)
		}
		if WaitFor(500*time.Millisecond, func() bool { return r.count() > n }) {
			return
		}
	}
	t.Fatalf("nothing crossed the emulator to %v", dst)
}

func percentile(sorted []time.Duration, q float64) time.Duration {
	i := int(math.Round(q * float64(len(sorted)-1)))
	return sorted[i]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/1e6) }

// histogram draws sorted RTTs in 5 ms buckets.
func histogram(sorted []time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "RTT of %d probes, ms: min %s p1 %s p5 %s p25 %s p50 %s p75 %s p95 %s p99 %s max %s\n",
		len(sorted), ms(sorted[0]), ms(percentile(sorted, .01)), ms(percentile(sorted, .05)),
		ms(percentile(sorted, .25)), ms(percentile(sorted, .5)), ms(percentile(sorted, .75)),
		ms(percentile(sorted, .95)), ms(percentile(sorted, .99)), ms(sorted[len(sorted)-1]))
	const w = 5 * time.Millisecond
	lo := sorted[0] / w * w
	counts := map[time.Duration]int{}
	most := 0
	for _, d := range sorted {
		k := d / w * w
		counts[k]++
		most = max(most, counts[k])
	}
	for k := lo; k <= sorted[len(sorted)-1]; k += w {
		n := counts[k]
		fmt.Fprintf(&b, "%4d-%-4d %-40s %d\n", k/time.Millisecond, (k+w)/time.Millisecond,
			strings.Repeat("#", (n*40+most-1)/most), n)
	}
	return b.String()
}

func skipShort(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: lab test")
	}
}

// TestLabWANTeardown checks the shape of a WAN lab, and that its cleanup
// leaves no namespace, socket or goroutine behind.
func TestLabWANTeardown(t *testing.T) {
	t.Parallel()
	skipShort(t)
	var w *WAN
	t.Run("lab", func(t *testing.T) {
		w = NewWAN(t, WANConfig{Seed: 7})
		if w.Seed != 7 && os.Getenv(SeedEnv) == "" {
			t.Errorf("seed %d, want 7", w.Seed)
		}
		if out := w.MustExec(t, w.Client, "ip", "route", "show", "default"); strings.TrimSpace(out) != "" {
			t.Errorf("client namespace has a default route: %s", out)
		}
		for _, fam := range []string{"-4", "-6"} {
			if out := w.MustExec(t, w.Mid, "ip", fam, "addr", "show"); strings.TrimSpace(out) != "" {
				t.Errorf("middle namespace has addresses (%s): %s", fam, out)
			}
		}
		// Plain lab helpers work across the emulator.
		w.ListenTCP(t, w.Server, "[::]:9000")
		for _, addr := range []string{"198.51.100.2:9000", "[2001:db8::2]:9000"} {
			err := InNamespace(w.Client, func() error {
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err == nil {
					c.Close()
				}
				return err
			})
			if err != nil {
				t.Errorf("connect %s: %v", addr, err)
			}
		}
	})
	out, err := run("ip", "netns", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{w.Client, w.Server, w.Mid} {
		if strings.Contains(out, ns) {
			t.Errorf("namespace %s left behind", ns)
		}
	}
	done := make(chan struct{})
	go func() {
		w.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Error("emulator goroutines still running after cleanup")
	}
	w.fdMu.Lock()
	if !w.closed {
		t.Error("emulator sockets still open after cleanup")
	}
	w.fdMu.Unlock()
}

// pinger sends ICMP echo requests from the client namespace, which the
// server's kernel answers, and takes each reply's arrival time from the
// kernel (SO_TIMESTAMPNS): a round trip measured so involves no goroutine
// of the test but the sender's, so a busy machine does not stretch it.
type pinger struct {
	c       *net.IPConn
	dst     *net.IPAddr
	mu      sync.Mutex
	replies map[uint16]time.Time // first reply to each sequence number
}

const pingID = 0x4b4e

func newPinger(t *testing.T, ns string, src, dst netip.Addr) *pinger {
	t.Helper()
	var c *net.IPConn
	if err := InNamespace(ns, func() error {
		pc, err := net.ListenPacket("ip4:icmp", src.String())
		if err == nil {
			c = pc.(*net.IPConn)
		}
		return err
	}); err != nil {
		t.Fatalf("icmp socket: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil || serr != nil {
		t.Fatalf("SO_TIMESTAMPNS: %v %v", err, serr)
	}
	p := &pinger{c: c, dst: &net.IPAddr{IP: dst.AsSlice()}, replies: map[uint16]time.Time{}}
	go p.read()
	return p
}

func (p *pinger) read() {
	buf, oob := make([]byte, 2048), make([]byte, 256)
	for range 10_000_000 {
		n, oobn, _, _, err := p.c.ReadMsgIP(buf, oob)
		if err != nil {
			return
		}
		// ReadMsgIP keeps the IPv4 header; then type, code, checksum, id,
		// seq.
		if n < 20 {
			continue
		}
		hl := int(buf[0]&0x0f) * 4
		icmp := buf[min(hl, n):n]
		if len(icmp) < 8 || icmp[0] != 0 || binary.BigEndian.Uint16(icmp[4:]) != pingID {
			continue
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			continue
		}
		for _, m := range msgs {
			if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_TIMESTAMPNS && len(m.Data) >= int(unsafe.Sizeof(unix.Timespec{})) {
				ts := *(*unix.Timespec)(unsafe.Pointer(&m.Data[0]))
				seq := binary.BigEndian.Uint16(icmp[6:])
				p.mu.Lock()
				if _, dup := p.replies[seq]; !dup {
					p.replies[seq] = time.Unix(ts.Unix())
				}
				p.mu.Unlock()
			}
		}
	}
}

// send sends echo request seq and returns when it left.
func (p *pinger) send(t *testing.T, seq uint16) time.Time {
	t.Helper()
	msg := make([]byte, 64)
	msg[0] = 8 // echo request
	binary.BigEndian.PutUint16(msg[4:], pingID)
	binary.BigEndian.PutUint16(msg[6:], seq)
	var sum uint32
	for i := 0; i < len(msg); i += 2 {
		sum += uint32(msg[i])<<8 | uint32(msg[i+1])
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	binary.BigEndian.PutUint16(msg[2:], ^uint16(sum))
	now := time.Now()
	if _, err := p.c.WriteToIP(msg, p.dst); err != nil {
		t.Fatalf("echo request %d: %v", seq, err)
	}
	return now
}

func (p *pinger) reply(seq uint16) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	at, ok := p.replies[seq]
	return at, ok
}

func (p *pinger) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.replies)
}

// icmpEchoes reads the echo requests that namespace ns has received.
func icmpEchoes(t *testing.T, ns string) int {
	t.Helper()
	var snmp []byte
	if err := InNamespace(ns, func() (err error) {
		snmp, err = os.ReadFile("/proc/thread-self/net/snmp")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, line := range strings.Split(string(snmp), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Icmp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, v := range f {
			if i < len(names) && names[i] == "InEchos" {
				n, err := strconv.Atoi(v)
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
		}
	}
	t.Fatalf("no Icmp InEchos in %s's snmp:\n%s", ns, snmp)
	return 0
}

// TestLabWANDelivers measures a 150 ms ± 30 ms, 2% loss path: ICMP echo
// probes for the round-trip time, then a 2,000 packets/s UDP stream each
// way for loss and order.
func TestLabWANDelivers(t *testing.T) {
	skipShort(t)
	im := Impairment{Delay: 75 * time.Millisecond, Jitter: 15 * time.Millisecond, Loss: 0.02}
	w := NewWAN(t, Symmetric(im))
	ping := newPinger(t, w.Client, ClientIP4, ServerIP4)
	for i := range 40 { // neighbour resolution first
		ping.send(t, uint16(60000+i))
		if WaitFor(500*time.Millisecond, func() bool { return ping.count() > 0 }) {
			break
		}
	}
	if ping.count() == 0 {
		t.Fatal("no echo reply crossed the emulator")
	}

	// Probes at least 30 ms apart: the uniform jitter (±15 ms each way)
	// never lets one probe's send time hold up the next one's, as it
	// would if a late wake-up of this goroutine sent two back to back.
	const probes = 300
	echoes0 := icmpEchoes(t, w.Server)
	sent := make([]time.Time, probes)
	for i := range probes {
		if i > 0 {
			time.Sleep(time.Until(sent[i-1].Add(30 * time.Millisecond)))
		}
		sent[i] = ping.send(t, uint16(i))
	}
	WaitFor(time.Second, func() bool { return ping.count() >= probes+1 })
	var rtts []time.Duration
	for i := range probes {
		if at, ok := ping.reply(uint16(i)); ok {
			rtts = append(rtts, at.Sub(sent[i]))
		}
	}
	reached := icmpEchoes(t, w.Server) - echoes0
	slices.Sort(rtts)
	if len(rtts) < probes/2 {
		t.Fatalf("only %d of %d probes answered", len(rtts), probes)
	}
	t.Logf("%d probes: %d reached the server, %d answers came back\n%s", probes, reached, len(rtts), histogram(rtts))

	// The round trip is 150 ms plus two uniform jitters: a triangle on
	// 120..180 ms, whose quartiles lie 17.6 ms apart, its 10th and 90th
	// percentiles 33.2 ms. A busy machine can only add a tail of late
	// wake-ups of the emulator (or of the sender between clock and send).
	if med := percentile(rtts, .5); med < 135*time.Millisecond || med > 165*time.Millisecond {
		t.Errorf("median RTT %v, want 150 ms ± 10%%", med)
	}
	if rtts[0] < 120*time.Millisecond {
		t.Errorf("fastest RTT %v beats the emulator's minimum of 120 ms", rtts[0])
	}
	if iqr := percentile(rtts, .75) - percentile(rtts, .25); iqr < 12*time.Millisecond || iqr > 25*time.Millisecond {
		t.Errorf("interquartile range %v, want about 17.6 ms", iqr)
	}
	if spread := percentile(rtts, .9) - percentile(rtts, .1); spread < 24*time.Millisecond || spread > 45*time.Millisecond {
		t.Errorf("p90-p10 spread %v, want about 33 ms", spread)
	}
	checkBinom(t, "probes lost on the way out", probes-reached, probes, im.Loss)
	checkBinom(t, "answers lost on the way back", reached-len(rtts), reached, im.Loss)

	// Both ways at once, 2,000 datagrams/s, 0.5 ms apart against ±15 ms
	// jitter: loss as set, and not one overtakes another.
	const n = 3000
	cliAddr := &net.UDPAddr{IP: ClientIP4.AsSlice(), Port: 7009}
	srvAddr := &net.UDPAddr{IP: ServerIP4.AsSlice(), Port: 7008}
	cli := udpIn(t, w.Client, cliAddr.String())
	srv := udpIn(t, w.Server, srvAddr.String())
	var atCli, atSrv recorder
	go atCli.record(cli)
	go atSrv.record(srv)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		stream(t, srv, cliAddr, 1<<20, n, 2000)
	}()
	stream(t, cli, srvAddr, 1<<20, n, 2000)
	wg.Wait()
	atSrv.settle()
	atCli.settle()
	up := atSrv.since(0)
	down := atCli.since(0)
	for _, c := range []struct {
		dir Dir
		a   arrivals
	}{{ClientToServer, countArrivals(up, 1<<20, n)}, {ServerToClient, countArrivals(down, 1<<20, n)}} {
		st := w.Stats(c.dir)
		t.Logf("%s: %d of %d arrived, %d late, %d duplicates; emulator %+v", c.dir, c.a.got, n, c.a.late, c.a.dups, st)
		checkBinom(t, c.dir.String()+" stream loss", n-c.a.got, n, im.Loss)
		if c.a.late != 0 || c.a.dups != 0 {
			t.Errorf("%s: %d late and %d duplicate datagrams with Reorder and Duplicate 0", c.dir, c.a.late, c.a.dups)
		}
		if st.Overflow != 0 || st.Errors != 0 {
			t.Errorf("%s: emulator overflowed or failed: %+v", c.dir, st)
		}
	}
}

// TestLabWANReorderDuplicate switches reordering and duplication on and
// off at run time and counts what arrives.
func TestLabWANReorderDuplicate(t *testing.T) {
	t.Parallel()
	skipShort(t)
	base := Impairment{Delay: 20 * time.Millisecond, Jitter: 5 * time.Millisecond}
	w := NewWAN(t, Symmetric(base))
	dst := &net.UDPAddr{IP: ServerIP6.AsSlice(), Port: 7008}
	sink := udpIn(t, w.Server, dst.String())
	src := udpIn(t, w.Client, "[::]:0")
	var rec recorder
	go rec.record(sink)
	warmUp(t, src, dst, &rec)

	if err := w.SetImpairment(ClientToServer, Impairment{Loss: 2}); err == nil {
		t.Error("SetImpairment accepted a loss of 2")
	}
	im := base
	im.Reorder, im.Duplicate = 0.05, 0.03
	if err := w.SetImpairment(ClientToServer, im); err != nil {
		t.Fatal(err)
	}
	if got := w.Impairment(ClientToServer); got.Reorder != im.Reorder || got.Duplicate != im.Duplicate {
		t.Errorf("Impairment() = %v, want %v", got, im)
	}
	before := w.Stats(ClientToServer)
	const n = 2000
	stream(t, src, dst, 0, n, 2000)
	rec.settle()
	seqs := rec.since(0)
	a := countArrivals(seqs, 0, n)
	st := w.Stats(ClientToServer)
	held, duped := st.Reordered-before.Reordered, st.Duplicated-before.Duplicated
	t.Logf("reorder 5%%, duplicate 3%%: %d of %d arrived, %d late, %d duplicates; emulator held %d, duplicated %d",
		a.got, n, a.late, a.dups, held, duped)
	if a.got != n {
		t.Errorf("%d of %d arrived without loss", a.got, n)
	}
	checkBinom(t, "late arrivals", a.late, n, im.Reorder)
	checkBinom(t, "duplicates", a.dups, n, im.Duplicate)
	if uint64(a.late) > held || uint64(a.dups) > duped {
		t.Errorf("more late (%d) or duplicate (%d) datagrams than the emulator made (%d, %d)", a.late, a.dups, held, duped)
	}

	if err := w.SetImpairment(ClientToServer, base); err != nil {
		t.Fatal(err)
	}
	mark := len(seqs)
	stream(t, src, dst, n, n, 2000)
	rec.settle()
	seqs = rec.since(mark)
	if a := countArrivals(seqs, n, n); a.got != n || a.late != 0 || a.dups != 0 {
		t.Errorf("after switching back: %+v, want all %d in order, once; emulator %+v", a, n, w.Stats(ClientToServer))
	}
}

// TestLabWANTCPAndKnockd runs real TCP (a bulk transfer, ssh) and the
// real knockd across the emulator, and drops knocks with a filter.
func TestLabWANTCPAndKnockd(t *testing.T) {
	t.Parallel()
	Require(t, "knockd", "iptables", "ip6tables", "sshd", "ssh")
	skipShort(t)
	clean := Impairment{Delay: 20 * time.Millisecond, Jitter: 5 * time.Millisecond}
	lossy := clean
	lossy.Loss = 0.01
	w := NewWAN(t, Symmetric(lossy))

	// 2 MB each way of the path, over IPv4 and IPv6, with 1% loss: TCP
	// segments must cross as MTU-sized frames.
	payload := bytes.Repeat([]byte("knock across the wan "), 100_000)
	var ln net.Listener
	if err := InNamespace(w.Server, func() (err error) { ln, err = net.Listen("tcp", "[::]:9000"); return }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for range 10 {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(30 * time.Second))
				_, _ = c.Write(payload)
			}()
		}
	}()
	for _, addr := range []string{"198.51.100.2:9000", "[2001:db8::2]:9000"} {
		var c net.Conn
		if err := InNamespace(w.Client, func() (err error) { c, err = net.DialTimeout("tcp", addr, 10*time.Second); return }); err != nil {
			t.Fatalf("dial %s: %v", addr, err)
		}
		c.SetDeadline(time.Now().Add(30 * time.Second))
		start := time.Now()
		got, err := io.ReadAll(c)
		c.Close()
		if err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("%s: read %d of %d bytes: %v", addr, len(got), len(payload), err)
		}
		t.Logf("%s: %d bytes in %v", addr, len(got), time.Since(start).Round(time.Millisecond))
	}
	for _, d := range []Dir{ClientToServer, ServerToClient} {
		if st := w.Stats(d); st.Errors != 0 || st.Overflow != 0 || st.Lost == 0 {
			t.Errorf("%s: %+v, want losses and no errors", d, st)
		}
	}

	w.SeedFirewall(t)
	sshd := w.Sshd(t)
	kd := w.Knockd(t, SSHDoors("7101,7102,7103", "7103,7102,7101"))
	knocks := clean
	knocks.Loss, knocks.Filter = 1, KnocksExcept(22)
	for d, im := range map[Dir]Impairment{ClientToServer: knocks, ServerToClient: clean} {
		if err := w.SetImpairment(d, im); err != nil {
			t.Fatal(err)
		}
	}
	lost := w.Stats(ClientToServer).Lost
	r := w.Knock(t, "--wait", "22", "--timeout", "2", "--retries", "0", ServerIP4.String(), "7101,7102,7103")
	if r.Code != 1 || !strings.Contains(r.Stderr, "did not open") {
		t.Fatalf("knocks all lost, yet knock --wait: exit %d: %s", r.Code, r.Stderr)
	}
	if n := w.Stats(ClientToServer).Lost - lost; n < 3 {
		t.Errorf("the filter dropped %d packets, want the 3 knocks at least", n)
	}
	if rules := w.AcceptRules(t); len(rules) != 0 {
		t.Fatalf("door open without a knock arriving: %v", rules)
	}

	if err := w.SetImpairment(ClientToServer, clean); err != nil {
		t.Fatal(err)
	}
	r = w.Knock(t, "-v", "--wait", "22", "--timeout", "5", ServerIP4.String(), "7101,7102,7103")
	if r.Code != 0 {
		t.Fatalf("knock --wait 22 across the WAN: exit %d: %s\nknockd:\n%s", r.Code, r.Stderr, kd.Log())
	}
	if !kd.WaitLog("OPEN SESAME", time.Second) {
		t.Errorf("knockd did not see the sequence:\n%s", kd.Log())
	}
	ssh, _ := LookPath("ssh")
	r = w.RunIn(t, w.Client, nil, ssh, "-F", sshd.ClientConf, "lab4", "echo", "across")
	if r.Code != 0 || strings.TrimSpace(r.Stdout) != "across" {
		t.Fatalf("ssh across the WAN: exit %d: %s %s", r.Code, r.Stdout, r.Stderr)
	}
}

// BenchmarkLabWAN measures the emulator's CPU cost: a helper process in
// the client namespace sends UDP at 2,000 packets/s through it (10 ms
// delay) to a helper process in the server namespace, so the benchmark's
// own process does nothing but emulate. It reports that process's CPU
// time per second of traffic and per packet. Run it with
// -benchtime 10000x (5 s of traffic).
func BenchmarkLabWAN(b *testing.B) {
	w := NewWAN(b, Symmetric(Impairment{Delay: 10 * time.Millisecond}))
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	helper := func(mode string) *exec.Cmd {
		c := exec.Command(exe)
		c.Env = append(os.Environ(), helperEnv+"="+mode,
			"KNOCK_LAB_WAN_ADDR="+net.JoinHostPort(ServerIP4.String(), "7008"),
			"KNOCK_LAB_WAN_N="+strconv.Itoa(b.N), "KNOCK_LAB_WAN_RATE=2000")
		return c
	}
	sink := w.StartCmd(b, w.Server, helper("sink"))
	if !WaitFor(10*time.Second, func() bool { return strings.Contains(sink.Output(), "ready") }) {
		b.Fatalf("sink did not start: %s", sink.Output())
	}
	var ru0, ru1 syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru0); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	send := w.StartCmd(b, w.Client, helper("send"))
	if err, ok := send.Wait(time.Duration(b.N)*time.Millisecond + 30*time.Second); !ok || err != nil {
		b.Fatalf("sender: %v: %s", err, send.Output())
	}
	wall := time.Since(start)
	if err, ok := sink.Wait(10 * time.Second); !ok || err != nil {
		b.Fatalf("sink: %v: %s", err, sink.Output())
	}
	b.StopTimer()
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru1); err != nil {
		b.Fatal(err)
	}
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "%cpu")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/pkt")
	if want := fmt.Sprintf("got %d", b.N); !strings.Contains(sink.Output(), want) {
		b.Errorf("sink: %s, want %s", strings.TrimSpace(sink.Output()), want)
	}
}

// helperEnv makes the test binary a traffic helper for BenchmarkLabWAN
// ("send" or "sink") instead of running tests.
const helperEnv = "KNOCK_LAB_WAN_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		if err := runHelper(mode); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runHelper sends N datagrams at RATE per second to ADDR, or receives
// them there and prints how many came, after N or a quiet second.
func runHelper(mode string) error {
	addr := os.Getenv("KNOCK_LAB_WAN_ADDR")
	n, err := strconv.Atoi(os.Getenv("KNOCK_LAB_WAN_N"))
	if err != nil {
		return err
	}
	switch mode {
	case "send":
		rate, err := strconv.Atoi(os.Getenv("KNOCK_LAB_WAN_RATE"))
		if err != nil || rate <= 0 {
			return fmt.Errorf("rate: %v", err)
		}
		c, err := net.Dial("udp", addr)
		if err != nil {
			return err
		}
		start := time.Now()
		for i := range n {
			if ahead := time.Duration(i)*time.Second/time.Duration(rate) - time.Since(start); ahead > time.Millisecond {
				time.Sleep(ahead)
			}
			if _, err := c.Write(datagram(uint32(i), 64)); err != nil {
				return err
			}
		}
		return nil
	case "sink":
		a, err := net.ResolveUDPAddr("udp", addr)
		if err != nil {
			return err
		}
		c, err := net.ListenUDP("udp", a)
		if err != nil {
			return err
		}
		fmt.Println("ready")
		buf := make([]byte, 2048)
		got := 0
		deadline := time.Now().Add(time.Duration(n)*time.Millisecond + 60*time.Second)
		for got < n && time.Now().Before(deadline) {
			wait := 30 * time.Second
			if got > 0 {
				wait = time.Second
			}
			c.SetReadDeadline(time.Now().Add(wait))
			if _, err := c.Read(buf); err != nil {
				break
			}
			got++
		}
		fmt.Printf("got %d\n", got)
		return nil
	}
	return fmt.Errorf("unknown mode %q", mode)
}
