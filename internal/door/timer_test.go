package door

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/a-knock/knock/internal/history"
	"github.com/a-knock/knock/internal/sender"
)

func sample(rounds int, open, rtt time.Duration) history.Sample {
	return history.Sample{Rounds: rounds, Open: open, RTT: rtt}
}

// The replay timer: first contact without one-round opens, else 3/2 of
// the slowest one-round open plus 100 ms.
func TestPlanFrom(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name    string
		samples []history.Sample
		want    Plan
	}{
		{"first contact", nil, Plan{Timer: time.Second}},
		{"one open on a veth", []history.Sample{sample(1, 40*ms, ms)},
			Plan{Timer: 160 * ms, Learned: true, Samples: 1, RTT: ms, Open: 40 * ms, Latency: 39 * ms}},
		{"the slowest of the one-round opens", []history.Sample{sample(1, 200*ms, 150*ms), sample(1, 260*ms, 180*ms), sample(1, 210*ms, 160*ms)},
			Plan{Timer: 490 * ms, Learned: true, Samples: 3, RTT: 180 * ms, Open: 260 * ms, Latency: 80 * ms}},
		// A slow door of 0.6 s: the timer waits 1 s.
		{"a slow door", []history.Sample{sample(1, 640*ms, 0)},
			Plan{Timer: 1060 * ms, Learned: true, Samples: 1, Open: 640 * ms, Latency: 640 * ms}},
		// Opens of several rounds teach nothing about the door (only the
		// round trip): a lost first round and a slow door look alike.
		{"only lossy opens", []history.Sample{sample(2, 200*ms, 150*ms), sample(3, 30*ms, 0)},
			Plan{Timer: time.Second, Samples: 2, RTT: 150 * ms}},
		{"lossy opens beside a clean one", []history.Sample{sample(3, 900*ms, 0), sample(1, 100*ms, 20*ms)},
			Plan{Timer: 250 * ms, Learned: true, Samples: 2, RTT: 20 * ms, Open: 100 * ms, Latency: 80 * ms}},
		// A probe's connect time longer than the open (a clock step)
		// leaves no negative latency.
		{"rtt above open", []history.Sample{sample(1, 10*ms, 30*ms)},
			Plan{Timer: 115 * ms, Learned: true, Samples: 1, RTT: 30 * ms, Open: 10 * ms}},
	} {
		if got := planFrom(tc.samples); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// The regression this timer exists for: a door slower than 90 ms is not
// knocked again before it could answer, at first contact or once learnt,
// so it opens once.
func TestNoReplayBeforeTheDoorAnswers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		learned time.Duration // what the history says the door takes; 0 for none
		door    time.Duration // what it takes now
	}{
		{"first contact", 0, 400 * time.Millisecond},
		{"learnt", 250 * time.Millisecond, 300 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeDoorFull(t, 3, 1, func(int) bool {
				time.Sleep(tc.door)
				return true
			})
			d := adhoc(t, f, Options{History: learnedHistory(t, "@127.0.0.1", tc.learned)})
			res, err := d.Open(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if res.Rounds != 1 {
				t.Fatalf("%d rounds for a door that answers in %s (learnt %s): the loop replayed before it could answer", res.Rounds, tc.door, tc.learned)
			}
			time.Sleep(100 * time.Millisecond) // a replay in flight would land
			if got := f.got(); len(got) != 3 {
				t.Fatalf("the door got %v, want the sequence once", got)
			}
			// The open is learnt from: the next timer covers it.
			if p := d.Plan(); !p.Learned || p.Timer < tc.door {
				t.Errorf("plan after the open: %+v", p)
			}
		})
	}
}

// Rounds are a timer apart, however many retries and however little time
// is left: the loop plays fewer rounds rather than early ones.
func TestRetryRoundsATimerApart(t *testing.T) {
	f := newFakeDoor(t, 0, 1) // only for its closed port
	var mu sync.Mutex
	var at []time.Time
	v := verify{addr: loopback, port: f.wait, timeout: 700 * time.Millisecond, retries: 100,
		timing: Plan{Timer: 150 * time.Millisecond}.timing()}
	res, err := retry(context.Background(), v, func(context.Context, int) error {
		mu.Lock()
		at = append(at, time.Now())
		mu.Unlock()
		return nil
	})
	if err == nil || res.Rounds != len(at) {
		t.Fatalf("%+v %v", res, err)
	}
	if len(at) < 3 || len(at) > 5 {
		t.Errorf("%d rounds in 700 ms with a 150 ms timer, want 4 or 5", len(at))
	}
	for i := 1; i < len(at); i++ {
		if gap := at[i].Sub(at[i-1]); gap < 150*time.Millisecond {
			t.Errorf("round %d came %s after the one before, before the timer", i, gap)
		}
	}
	// A failed open settles a timer after its last round.
	if want := at[len(at)-1].Add(150 * time.Millisecond); res.settle.Before(want) {
		t.Errorf("settle %s before %s", res.settle, want)
	}
}

// A door knocked in several rounds is closed only once the last round has
// had as long to be answered as the open took: knockd runs each round's
// command in a process of its own, and a close that overtakes one finds
// nothing to delete.
func TestCloseWaitsForTheLastRound(t *testing.T) {
	f := newFakeDoor(t, 3, 2)
	d := adhoc(t, f, Options{})
	res, err := d.Open(context.Background())
	if err != nil || res.Rounds != 2 {
		t.Fatalf("%+v %v", res, err)
	}
	if min := time.Now().Add(timerMargin); d.settle.Before(min) {
		t.Fatalf("settle %s, want after %s", d.settle, min)
	}
	if err := d.awaitSettle(context.Background(), d.settle); err != nil {
		t.Fatal(err)
	}
	if time.Now().Before(d.settle) {
		t.Errorf("awaitSettle returned %s early", time.Until(d.settle))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.awaitSettle(ctx, time.Now().Add(time.Hour)); err == nil {
		t.Error("a cancelled wait returned no error")
	}
}

// closedWithin: an answered volley is an open port; a volley without an
// answer (one probe lost on the way is not enough) a closed one; a port
// still open when the window passes means the close was lost.
func TestCloseCheck(t *testing.T) {
	addr := netip.MustParseAddr("192.0.2.1")
	for _, tc := range []struct {
		name     string
		openFor  int  // probes answered before the door shuts
		lossy    bool // every third probe is lost while open
		never    bool // the door never shuts
		closed   bool
		minCalls int
	}{
		{"closed at once", 0, false, false, true, 3},
		{"closes after two volleys", 6, false, false, true, 9},
		{"a lost probe does not make it closed", 9, true, false, true, 12},
		{"a lost close", 0, false, true, false, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			calls := 0
			c := closeCheck{addr: addr, port: 22, window: 200 * time.Millisecond, probe: 10 * time.Millisecond,
				isOpen: func(_ context.Context, _ netip.Addr, _ uint16, _ time.Duration) bool {
					mu.Lock()
					defer mu.Unlock()
					calls++
					open := tc.never || calls <= tc.openFor
					if open && tc.lossy && calls%3 == 0 {
						return false
					}
					return open
				}}
			closed, err := c.closedWithin(context.Background())
			if err != nil || closed != tc.closed {
				t.Fatalf("closed %v (%v), want %v", closed, err, tc.closed)
			}
			if calls < tc.minCalls {
				t.Errorf("%d probes, want %d at least", calls, tc.minCalls)
			}
		})
	}
	if p := newCloseCheck(addr, 22, Plan{}).probe; p != closeProbeUnknown {
		t.Errorf("probe timeout %s without a round trip", p)
	}
	if p := newCloseCheck(addr, 22, Plan{RTT: 150 * time.Millisecond}).probe; p != 500*time.Millisecond {
		t.Errorf("probe timeout %s for a 150 ms round trip, want 500ms", p)
	}
	if p := newCloseCheck(addr, 22, Plan{RTT: time.Millisecond}).probe; p != closeProbeFloor {
		t.Errorf("probe timeout %s on a veth, want the floor", p)
	}
}

// A close that the door did not take is played again, as a replay, until
// the port closes.
func TestCloseReplayedUntilClosed(t *testing.T) {
	f := newFakeDoor(t, 3, 1)
	cl := newFakeDoor(t, 3, 1000)
	opts := testStores(t, "")
	opts.History = learnedHistory(t, "lab", fastDoor)
	lost := 0
	cl.mu.Lock()
	cl.onFull = func(int) bool {
		// The first close is lost; the second shuts the door.
		if lost++; lost < 2 {
			return false
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.ln != nil {
			f.ln.Close()
			f.ln = nil
		}
		return false
	}
	cl.mu.Unlock()
	addLab(t, opts, f, cl)
	d, err := Lookup(context.Background(), "lab", opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	shut := f.ln == nil
	f.mu.Unlock()
	cl.mu.Lock()
	n := lost
	cl.mu.Unlock()
	if !shut || n != 2 {
		t.Fatalf("door shut %v after %d close sequence(s), want shut after 2", shut, n)
	}
	// The second close was a replay: reset knocks first.
	want := append(ports(cl.open), ports(sender.Replay(cl.open))...)
	if got := cl.waitArrivals(len(want)); !sameKnocks(got, want) {
		t.Errorf("close knocks %v, want %v", got, want)
	}
}

// A port that accepts before the knock (nothing guards it, or the door
// was open already) proves nothing: the open teaches no timer, and the
// close is played but not checked on it, here or in a later knock close.
func TestOpenBefore(t *testing.T) {
	f := newFakeDoor(t, 3, 1)
	cl := newFakeDoor(t, 3, 1000) // a close that changes nothing
	ln, err := net.Listen("tcp", netip.AddrPortFrom(loopback, f.wait).String())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	opts := testStores(t, "")
	addLab(t, opts, f, cl)
	for _, fresh := range []bool{false, true} {
		d, err := Lookup(context.Background(), "lab", opts)
		if err != nil {
			t.Fatal(err)
		}
		res, err := d.Open(context.Background())
		if err != nil || !res.OpenBefore || res.Sample != (history.Sample{}) {
			t.Fatalf("%+v %v: want an open before the knock, nothing measured", res, err)
		}
		if r := opts.History.Get("lab"); len(r.Samples) != 0 || !r.OpenBefore {
			t.Fatalf("history %+v", r)
		}
		if fresh { // knock close NAME
			d, _ = Lookup(context.Background(), "lab", opts)
		}
		start := time.Now()
		if err := d.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took > 500*time.Millisecond {
			t.Errorf("close took %s: it checked a port that proves nothing", took)
		}
	}
	if got := cl.waitArrivals(6); len(got) != 6 {
		t.Errorf("close knocks %v, want the sequence once per close", got)
	}
}
