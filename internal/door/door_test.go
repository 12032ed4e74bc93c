package door

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/a-knock/knock/internal/exit"
	"github.com/a-knock/knock/internal/history"
	"github.com/a-knock/knock/internal/otp"
	"github.com/a-knock/knock/internal/profiles"
	"github.com/a-knock/knock/internal/sender"
	"github.com/a-knock/knock/internal/seq"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// fakeDoor is a knock server on loopback, good enough for the client's
// loop: UDP sockets on the knock ports record every datagram in arrival
// order, and once the recorded stream ends with the open sequence for the
// opens-th time, the guarded TCP port starts listening.
type fakeDoor struct {
	t      *testing.T
	open   seq.Sequence
	opens  int            // complete sequences needed before the port opens
	onFull func(int) bool // called at each complete sequence; false: ignore it
	wait   uint16         // the guarded port

	mu       sync.Mutex
	arrivals []uint16
	complete int
	ln       net.Listener
}

func newFakeDoor(t *testing.T, knocks, opens int) *fakeDoor {
	return newFakeDoorFull(t, knocks, opens, nil)
}

func newFakeDoorFull(t *testing.T, knocks, opens int, onFull func(int) bool) *fakeDoor {
	t.Helper()
	f := &fakeDoor{t: t, opens: opens, onFull: onFull}
	var pcs []net.PacketConn
	for i := 0; i < knocks; i++ {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pc.Close() })
		pcs = append(pcs, pc)
		f.open = append(f.open, seq.Knock{Port: uint16(pc.LocalAddr().(*net.UDPAddr).Port), Proto: seq.UDP})
	}
	// A port with nothing on it, to listen on later.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.wait = uint16(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	t.Cleanup(func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.ln != nil {
			f.ln.Close()
		}
	})
	// Readers start last: a stray datagram (for a port that an earlier
	// test used) may arrive at once.
	for i, pc := range pcs {
		go f.read(pc, f.open[i].Port)
	}
	return f
}

func (f *fakeDoor) read(pc net.PacketConn, port uint16) {
	buf := make([]byte, 64)
	for {
		if _, _, err := pc.ReadFrom(buf); err != nil {
			return
		}
		f.mu.Lock()
		f.arrivals = append(f.arrivals, port)
		if f.endsWithOpen() {
			f.complete++
			if (f.onFull == nil || f.onFull(f.complete)) && f.complete >= f.opens && f.ln == nil {
				ln, err := net.Listen("tcp", netip.AddrPortFrom(loopback, f.wait).String())
				if err == nil {
					f.ln = ln
					go func() {
						for {
							c, err := ln.Accept()
							if err != nil {
								return
							}
							c.Close()
						}
					}()
				}
			}
		}
		f.mu.Unlock()
	}
}

func (f *fakeDoor) endsWithOpen() bool {
	n := len(f.open)
	if len(f.arrivals) < n {
		return false
	}
	for i, k := range f.open {
		if f.arrivals[len(f.arrivals)-n+i] != k.Port {
			return false
		}
	}
	return true
}

func (f *fakeDoor) got() []uint16 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]uint16(nil), f.arrivals...)
}

func ports(sq seq.Sequence) []uint16 {
	var ps []uint16
	for _, k := range sq {
		ps = append(ps, k.Port)
	}
	return ps
}

// sameKnocks reports whether a and b hold the same knocks, in any order:
// the fake door's record may swap knocks that a loaded machine delivers
// to its per-port readers late.
func sameKnocks(a, b []uint16) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return equalPorts(a, b)
}

func equalPorts(a, b []uint16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// waitArrivals gives datagrams in flight a moment to land.
func (f *fakeDoor) waitArrivals(n int) []uint16 {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if got := f.got(); len(got) >= n {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
	return f.got()
}

// knockGap paces the knocks of the tests: the fake door reads each port
// in its own goroutine, so only a gap keeps its record in send order.
const knockGap = 20 * time.Millisecond

func adhoc(t *testing.T, f *fakeDoor, opts Options) *Door {
	t.Helper()
	opts.WaitPort = f.wait
	opts.Delay = knockGap
	if opts.Retries == 0 {
		opts.Retries = DefaultRetries
	}
	if opts.History == nil {
		opts.History = learnedHistory(t, "@127.0.0.1", fastDoor)
	}
	d, err := Adhoc(context.Background(), "127.0.0.1", f.open, opts)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// fastDoor is how long the fake door has been seen to take, in the
// histories of the tests: its replay timer is 3/2 of it plus 100 ms.
const fastDoor = 40 * time.Millisecond

// learnedHistory is a history of the test's own in which key's door has
// opened in one round in open (none: a first contact).
func learnedHistory(t *testing.T, key string, open time.Duration) *history.Store {
	t.Helper()
	h := history.At(filepath.Join(t.TempDir(), "history.json"))
	if open > 0 {
		err := h.Update(key, func(r *history.Record) {
			r.AddSample(history.Sample{At: time.Now(), Rounds: 1, Open: open, RTT: time.Millisecond})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// A loss-free knock: one round, every knock arrives in order, the door
// is seen open.
func TestOpenVerifiedOneRound(t *testing.T) {
	f := newFakeDoor(t, 3, 1)
	d := adhoc(t, f, Options{})
	res, err := d.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !res.Verified || res.Rounds != 1 || res.Port != f.wait {
		t.Fatalf("result %+v, want verified on %d after 1 round", res, f.wait)
	}
	if got := f.waitArrivals(3); !sameKnocks(got, ports(f.open)) {
		t.Fatalf("the door got %v, want exactly %v", got, ports(f.open))
	}
	if !d.Opened() {
		t.Error("door not marked open")
	}
	// Open again: nothing is sent.
	if _, err := d.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.got(); len(got) != 3 {
		t.Errorf("a second Open sent knocks: %v", got)
	}
}

// A door that ignores the first complete sequence (a lost round): the
// loop replays, with reset knocks first, and sees the door open after
// the second round.
func TestOpenReplaysAfterLostRound(t *testing.T) {
	f := newFakeDoor(t, 3, 2)
	d := adhoc(t, f, Options{})
	res, err := d.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// A loaded machine may deliver a knock to the fake door's reader late
	// enough to spoil a round's order: then a third round opens it.
	if !res.Verified || res.Rounds < 2 {
		t.Fatalf("result %+v, want verified after 2 rounds", res)
	}
	want := append(ports(f.open), ports(sender.Replay(f.open))...)
	if got := f.waitArrivals(len(want)); len(got) < len(want) || !sameKnocks(got[:len(want)], want) {
		t.Fatalf("the door got %v, want %v (round 1, then reset knocks and round 2)", got, want)
	}
	// Each round may have run the door's command: as many closes.
	if d.rounds != res.Rounds {
		t.Errorf("rounds %d, want %d", d.rounds, res.Rounds)
	}
}

func TestOpenGivesUp(t *testing.T) {
	f := newFakeDoor(t, 3, 1000)
	d := adhoc(t, f, Options{Timeout: time.Second, Retries: 2})
	res, err := d.Open(context.Background())
	if !errors.Is(err, sender.ErrNotOpened) {
		t.Fatalf("err %v, want ErrNotOpened", err)
	}
	if res.Rounds != 3 || res.Verified {
		t.Fatalf("result %+v: want 3 unverified rounds", res)
	}
	if exit.Code(err) != exit.Failure || !strings.Contains(err.Error(), "after 3 round(s)") {
		t.Errorf("error %q (code %d)", err, exit.Code(err))
	}
	if d.Opened() {
		t.Error("a door that never opened is marked open")
	}
}

// A door that opens late, after a replay has started, is still seen: the
// prober watches across rounds.
func TestOpenSeesLateDoor(t *testing.T) {
	f := newFakeDoorFull(t, 3, 1, func(int) bool {
		time.Sleep(3 * (fastDoor*3/2 + timerMargin)) // a slower door command than learnt
		return true
	})
	d := adhoc(t, f, Options{})
	res, err := d.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !res.Verified {
		t.Fatalf("result %+v", res)
	}
}

func TestOpenCancelled(t *testing.T) {
	f := newFakeDoor(t, 3, 1000)
	d := adhoc(t, f, Options{Timeout: 30 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	_, err := d.Open(ctx)
	if exit.Code(err) != exit.Interrupted {
		t.Fatalf("err %v (code %d), want an interruption", err, exit.Code(err))
	}
}

// Without a wait port the sequence goes out once, unverified.
func TestOpenUnverified(t *testing.T) {
	f := newFakeDoor(t, 3, 1)
	d, err := Adhoc(context.Background(), "127.0.0.1", f.open, Options{Overrides: Overrides{Delay: knockGap}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := d.Open(context.Background())
	if err != nil || res.Rounds != 1 || res.Verified || res.Port != 0 {
		t.Fatalf("%+v %v", res, err)
	}
	if got := f.waitArrivals(3); !sameKnocks(got, ports(f.open)) {
		t.Fatalf("the door got %v, want %v", got, ports(f.open))
	}
}

func TestDryRun(t *testing.T) {
	f := newFakeDoor(t, 2, 1)
	var out bytes.Buffer
	d := adhoc(t, f, Options{DryRun: true, Out: &out, Retries: 4})
	if _, err := d.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if got := f.got(); len(got) != 0 {
		t.Fatalf("a dry run sent %v", got)
	}
	for _, want := range []string{"would knock 127.0.0.1 (127.0.0.1) with 2 packet(s)", "then wait up to 10s for tcp port", "replaying up to 4 time(s)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("plan lacks %q:\n%s", want, out.String())
		}
	}
}

// A round's wait grows by half up to max, and is never shorter than the
// first: the loop replays no sooner than the door could have answered.
func TestRoundWait(t *testing.T) {
	tm := timing{first: 200 * time.Millisecond, max: time.Second}
	prev := time.Duration(0)
	for r := 0; r < 8; r++ {
		w := tm.roundWait(r)
		if w < prev || w > tm.max || w < tm.first {
			t.Fatalf("round %d waits %s after %s", r, w, prev)
		}
		prev = w
	}
	if w := tm.roundWait(0); w != tm.first {
		t.Errorf("first wait %s, want %s", w, tm.first)
	}
	if w := (timing{first: 2 * time.Second, max: time.Second}).roundWait(3); w != 2*time.Second {
		t.Errorf("a max below the first wait shortened it to %s", w)
	}
	if w := (Plan{Timer: 450 * time.Millisecond}).timing().roundWait(5); w != 450*time.Millisecond {
		t.Errorf("a sequence's timer grew to %s: every round waits the timer", w)
	}
}

// addLab stores profile "lab": the sequence and wait port of door f,
// with the sequence of door cl as its close sequence.
func addLab(t *testing.T, opts Options, f, cl *fakeDoor) {
	t.Helper()
	p := &profiles.Profile{Name: "lab", Host: "127.0.0.1", Open: f.open.String(), Close: cl.open.String(), WaitPort: f.wait, DelayMS: int(knockGap / time.Millisecond)}
	if err := opts.Stores.Add(p, profiles.StoreFile); err != nil {
		t.Fatal(err)
	}
}

// testStores is a file store of the test's own, and an ssh_config.
func testStores(t *testing.T, sshConfig string) Options {
	t.Helper()
	dir := t.TempDir()
	st, err := profiles.New(profiles.Options{Dir: filepath.Join(dir, "knock"), NoKeyring: true})
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "ssh_config")
	if err := os.WriteFile(conf, []byte(sshConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvOpened, "")
	return Options{Stores: st, SSHConfig: conf, Retries: DefaultRetries, History: history.At(filepath.Join(dir, "history.json"))}
}

// The one rule for the port that proves a door open, for every caller.
func TestWaitPortRule(t *testing.T) {
	opts := testStores(t, "Host entry\n  HostName 127.0.0.1\n  Port 2222\nHost both\n  HostName 127.0.0.1\n  Port 2222\n")
	for _, p := range []*profiles.Profile{
		{Name: "bare", Host: "127.0.0.1", Open: "1"},
		{Name: "entry", Open: "1"},
		{Name: "both", Open: "1", WaitPort: 443},
		{Name: "own", Host: "127.0.0.1", Open: "1", WaitPort: 8443},
	} {
		if err := opts.Stores.Add(p, profiles.StoreFile); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		wait uint16 // --wait
		port uint16 // the caller's port (proxy)
		ssh  bool   // knock ssh, the picker
		want uint16
	}{
		{"bare", 0, 0, false, 0},       // knock NAME: nothing known, unverified
		{"bare", 0, 0, true, 22},       // knock ssh: the ssh port
		{"bare", 0, 5001, false, 5001}, // knock proxy NAME 5001
		{"bare", 99, 5001, true, 99},   // --wait wins
		{"entry", 0, 0, false, 2222},   // the Host entry's Port
		{"entry", 0, 0, true, 2222},
		{"entry", 0, 5001, false, 2222},
		{"both", 0, 0, false, 443}, // the profile's wait port over the Host entry
		{"both", 0, 0, true, 443},  // knock ssh and the picker alike
		{"both", 0, 22, false, 443},
		{"own", 0, 0, true, 8443},
	} {
		o := opts
		o.WaitPort, o.Port, o.SSH = tc.wait, tc.port, tc.ssh
		d, err := Lookup(context.Background(), tc.name, o)
		if err != nil {
			t.Fatal(err)
		}
		if got := d.T.WaitPort(); got != tc.want {
			t.Errorf("%s (--wait %d, port %d, ssh %v): wait port %d, want %d", tc.name, tc.wait, tc.port, tc.ssh, got, tc.want)
		}
	}
}

func TestLookupErrors(t *testing.T) {
	opts := testStores(t, "")
	opts.Stores.Add(&profiles.Profile{Name: "ghost", Host: "no-such-host.invalid", Open: "1"}, profiles.StoreFile)
	for name, want := range map[string]string{
		"nosuch": `no profile "nosuch"`,
		"ghost":  `profile "ghost": cannot resolve host "no-such-host.invalid"`,
	} {
		_, err := Lookup(context.Background(), name, opts)
		if err == nil || !strings.Contains(err.Error(), want) || exit.Code(err) != exit.UsageCode {
			t.Errorf("%s: %v, want a usage error with %q", name, err, want)
		}
	}
}

// Profile settings apply, and the flags the user gave win over them.
func TestSequenceOptions(t *testing.T) {
	p := &profiles.Profile{Name: "p", Open: "1", DelayMS: 250, Method: "connect", SeqTimeout: 20}
	s := sequenceOptions(p, Options{})
	if s.send.Delay != 250*time.Millisecond || s.send.Method != sender.Connect || s.seqTimeout != 20*time.Second || !s.secret || s.err != nil {
		t.Fatalf("profile settings: %+v", s)
	}
	f, _ := seq.ParseFlags("fin,!ack")
	s = sequenceOptions(p, Options{Overrides: Overrides{Delay: time.Second, Method: sender.Raw, Flags: f, Payload: []byte("x"), SeqTimeout: time.Minute}})
	if s.send.Delay != time.Second || s.send.Method != sender.Raw || s.send.Flags != f || string(s.send.Payload) != "x" || s.seqTimeout != time.Minute {
		t.Fatalf("overrides: %+v", s)
	}
	if s := sequenceOptions(&profiles.Profile{Name: "p", Method: "bogus"}, Options{}); s.err == nil {
		t.Error("a malformed method in a profile was accepted")
	}
	if s := sequenceOptions(nil, Options{}); s.secret {
		t.Error("an ad hoc sequence is not a secret")
	}
}

// closedBy makes cl the close door of f: a complete close sequence shuts
// f's port, and lets f open again.
func (f *fakeDoor) closedBy(cl *fakeDoor) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	cl.onFull = func(int) bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.ln != nil {
			f.ln.Close()
			f.ln = nil
		}
		f.complete = 0
		return false
	}
}

// The close action runs once per round the open action played, and,
// for a door that was never opened here (knock close NAME), once per
// round the history counts since the last close, at least once.
func TestCloseOncePerRound(t *testing.T) {
	f := newFakeDoor(t, 3, 2)
	cl := newFakeDoor(t, 2, 1000)
	f.closedBy(cl)
	opts := testStores(t, "")
	opts.History = learnedHistory(t, "lab", fastDoor)
	addLab(t, opts, f, cl)
	d, err := Lookup(context.Background(), "lab", opts)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := d.Open(context.Background()); err != nil || res.Rounds != 2 {
		t.Fatalf("%+v %v", res, err)
	}
	if n := opts.History.Get("lab").Pending; n != 2 {
		t.Errorf("the history counts %d rounds, want 2", n)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Two complete close sequences; a replay starts with reset knocks
	// (none for a sequence of two).
	if got := cl.waitArrivals(4); len(got) != 4 {
		t.Fatalf("close knocks %v, want the close sequence twice", got)
	}
	if n := opts.History.Get("lab").Pending; n != 0 {
		t.Errorf("the history counts %d rounds after the close, want 0", n)
	}
	d2, _ := Lookup(context.Background(), "lab", opts)
	if err := d2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := cl.waitArrivals(6); len(got) != 6 {
		t.Fatalf("knock close NAME: close knocks %v, want one more sequence", got)
	}

	// knock NAME in one process, knock close NAME in another: the
	// second closes as often as the first opened.
	d3, _ := Lookup(context.Background(), "lab", opts)
	if res, err := d3.Open(context.Background()); err != nil || res.Rounds != 2 {
		t.Fatalf("%+v %v", res, err)
	}
	d4, _ := Lookup(context.Background(), "lab", opts)
	if err := d4.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := cl.waitArrivals(10); len(got) != 10 {
		t.Fatalf("knock close NAME after a two-round knock NAME: close knocks %v, want two more sequences", got)
	}
	if n := opts.History.Get("lab").Pending; n != 0 {
		t.Errorf("the history counts %d rounds after knock close, want 0", n)
	}
}

// The one-time counter is stored advanced before any packet leaves
// (a crash then burns a line, never replays one), stays advanced once
// the door opened, and goes back when it did not.
func TestOTPCounter(t *testing.T) {
	opts := testStores(t, "")
	f := newFakeDoor(t, 0, 1) // only for its closed wait port
	cfg := &profiles.OTPConfig{Length: 3, PortLo: 40000, PortHi: 59999, Proto: "udp"}
	params, _ := cfg.Params()
	// The fake door listens on the ports of sequence 0; try secrets until
	// those ports are free here (a bounded number of times).
	door0 := &fakeDoor{t: t, opens: 1, wait: f.wait}
	for i := byte(0); door0.open == nil; i++ {
		if i == 20 {
			t.Fatal("no secret whose sequence 0 has free ports")
		}
		secret := bytes.Repeat([]byte{i + 1}, 32)
		sq0, _ := otp.Sequence(secret, 0, params)
		var pcs []net.PacketConn
		for _, k := range sq0 {
			pc, err := net.ListenPacket("udp", netip.AddrPortFrom(loopback, k.Port).String())
			if err != nil {
				break
			}
			pcs = append(pcs, pc)
		}
		if len(pcs) < len(sq0) {
			for _, pc := range pcs {
				pc.Close()
			}
			continue
		}
		cfg.Secret = secret
		door0.open = sq0
		for i, pc := range pcs {
			t.Cleanup(func() { pc.Close() })
			go door0.read(pc, sq0[i].Port)
		}
	}
	p := &profiles.Profile{Name: "vpn", Kind: profiles.KindOTP, Host: "127.0.0.1", OTP: cfg, WaitPort: f.wait, DelayMS: int(knockGap / time.Millisecond)}
	if err := opts.Stores.Add(p, profiles.StoreFile); err != nil {
		t.Fatal(err)
	}
	counter := func() uint64 {
		p, _, err := opts.Stores.Get("vpn")
		if err != nil {
			t.Fatal(err)
		}
		return p.OTP.Counter
	}
	var seenCounter uint64 = 99
	door0.mu.Lock() // its readers run already
	door0.onFull = func(int) bool {
		seenCounter = counter()
		return true
	}
	door0.mu.Unlock()
	t.Cleanup(func() {
		door0.mu.Lock()
		if door0.ln != nil {
			door0.ln.Close()
		}
		door0.mu.Unlock()
	})
	d, err := Lookup(context.Background(), "vpn", opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	door0.mu.Lock() // onFull ran under it
	seen := seenCounter
	door0.mu.Unlock()
	if seen != 1 {
		t.Errorf("when the packets arrived the stored counter was %d, want 1 (stored before sending)", seen)
	}
	if c := counter(); c != 1 {
		t.Fatalf("counter %d after an open, want 1", c)
	}
	// The door is open now (door0 listens): sequence 1 goes to ports
	// nobody listens on, and the port is open, so it counts as opened.
	// Close the listener to make the next knock fail.
	door0.mu.Lock()
	door0.ln.Close()
	door0.mu.Unlock()
	o := opts
	o.Timeout, o.Retries = 500*time.Millisecond, 1
	d, _ = Lookup(context.Background(), "vpn", o)
	if _, err := d.Open(context.Background()); !errors.Is(err, sender.ErrNotOpened) {
		t.Fatalf("err %v, want ErrNotOpened", err)
	}
	if c := counter(); c != 1 {
		t.Fatalf("counter %d after a failed knock, want 1 (the same line next time)", c)
	}
}

// SPA doors refuse sequence-only flags and IPv6.
func TestSPABadOverrides(t *testing.T) {
	opts := testStores(t, "")
	p := &profiles.Profile{Name: "fw", Kind: profiles.KindSPA, Host: "127.0.0.1", Family: "inet",
		SPA: &profiles.SPAConfig{KeyBase64: "wzNP62oPPgEc+kXDPQLHPOayQBuNbYUTPP+QrErNDmg=", Access: []string{"tcp/22"}}}
	if err := opts.Stores.Add(p, profiles.StoreFile); err != nil {
		t.Fatal(err)
	}
	o := opts
	o.Delay = time.Second
	if _, err := Lookup(context.Background(), "fw", o); err == nil || !strings.Contains(err.Error(), "--delay: only for knock sequences") || exit.Code(err) != exit.UsageCode {
		t.Errorf("--delay: %v", err)
	}
	o = opts
	o.Family = sender.IPv6
	if _, err := Lookup(context.Background(), "fw", o); err == nil || exit.Code(err) != exit.UsageCode {
		t.Errorf("-6: %v", err)
	}
}
