package door

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/a-knock/knock/internal/history"
	"github.com/a-knock/knock/internal/sender"
)

// timing is how long a door is given to open after a round before the
// round is played again: first after the first round, growing by half
// each round up to max. A knockd sequence learns its first wait from the
// door's recent opens (see timer.go, [planFrom]).
//
// For SPA, fwknopd decrypts the packet and runs iptables; a fresh packet
// is sent after a second at the earliest. SPA has no close: fwknopd
// removes what it added after its access timeout, however many rounds
// added it.
type timing struct {
	first, max time.Duration
}

var spaTiming = timing{first: time.Second, max: 2500 * time.Millisecond}

// roundWait is how long to wait for the port after round (0-based): the
// first wait, growing by half each round up to max, never less than the
// first wait. The loop never shortens it to fit more rounds into its
// timeout: a replay before the door could have answered may open it
// twice.
func (tm timing) roundWait(round int) time.Duration {
	w := tm.first
	for i := 0; i < round && w < tm.max; i++ {
		w = w * 3 / 2
	}
	return max(min(w, tm.max), tm.first)
}

// verify says which port proves the door open and how long to try.
type verify struct {
	addr    netip.Addr
	port    uint16
	timeout time.Duration
	retries int
	timing  timing
	log     io.Writer // -v lines; nil for none
}

// retry is the one verify and retry loop of every kind of door. It plays
// round 0, and while v.port stays closed plays rounds 1, 2 ... (at most
// v.retries more), waiting after each as v.timing says, within
// v.timeout: a round whose wait would end past the timeout is the last.
// One prober watches the port for the whole call, so a door that opens
// late, after a later round has started, is still seen at once. round(ctx,
// n) plays round n; a replay of a knockd sequence, for example, starts
// with reset knocks, and an SPA round is a fresh packet. The result says
// what the open measured ([history.Sample]) and when every round played
// has had its time to run the door's command. The error for a port that
// never opened wraps [sender.ErrNotOpened].
func retry(ctx context.Context, v verify, round func(ctx context.Context, n int) error) (Result, error) {
	start := time.Now()
	res := Result{Port: v.port}
	deadline := start.Add(v.timeout)
	vctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	rounds := v.retries + 1
	var p *sender.Prober
	var first, last time.Time // when round 0 and the latest round ended
	before := preProbe(vctx, v.addr, v.port)
	for n := 0; n < rounds; n++ {
		if n > 0 && v.log != nil {
			fmt.Fprintf(v.log, "knock: port %d not open yet, playing again (round %d of %d)\n", v.port, n+1, rounds)
		}
		if err := round(vctx, n); err != nil {
			if ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
				res.Elapsed = time.Since(start)
				res.settle = v.settleAfter(last)
				return res, err
			}
			break // the time ran out while pacing a round
		}
		last = time.Now()
		if n == 0 {
			first = last
		}
		res.Rounds++
		if p == nil {
			p = sender.StartProber(vctx, v.addr, v.port)
		} else {
			p.Restart()
		}
		wait := time.Until(deadline)
		final := n == rounds-1
		if w := v.timing.roundWait(n); !final && w < wait {
			wait = w
		} else {
			final = true
		}
		if wait <= 0 {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-p.Opened():
			t.Stop()
			return v.opened(res, start, first, last, p, before), nil
		case <-t.C:
		case <-vctx.Done():
			t.Stop()
		}
		if vctx.Err() != nil || final {
			break
		}
	}
	if p != nil && p.IsOpened() {
		return v.opened(res, start, first, last, p, before), nil
	}
	res.Elapsed = time.Since(start)
	res.settle = v.settleAfter(last)
	if err := ctx.Err(); errors.Is(err, context.Canceled) {
		return res, err
	}
	return res, fmt.Errorf("%s after %d round(s) in %s: %w", netip.AddrPortFrom(v.addr, v.port), res.Rounds, res.Elapsed.Round(time.Millisecond), sender.ErrNotOpened)
}

// retransmitted is the kernel's first SYN retransmission timeout: a probe
// that took longer lost its first SYN, and its connect time is no
// round-trip time.
const retransmitted = time.Second

// preProbe tries one connection to the wait port as the first round
// starts, and reports on the channel, once, whether the port accepted it
// at once: then the port was open before the knock (nothing guards it, or
// the door was open already), and the open proves nothing about the door.
// Its SYN leaves before the knocks, or while they do, so no door can
// have answered it; one that the firewall dropped is not sent again
// within its timeout.
func preProbe(ctx context.Context, addr netip.Addr, port uint16) <-chan bool {
	before := make(chan bool, 1)
	started := make(chan struct{})
	go func() {
		close(started)
		before <- sender.IsOpen(ctx, addr, port, preProbeTimeout)
	}()
	<-started
	return before
}

// preProbeTimeout is below the kernel's first SYN retransmission: a
// second SYN might meet a door that the knocks opened.
const preProbeTimeout = 900 * time.Millisecond

// opened completes the result of an open seen at the prober's winning
// probe: the open's measurements, and when the rounds are settled: now
// after one round, which the port's opening proves answered; else when
// the last round has had as long to be answered as the open took from
// the first (some round was answered in that time, and the door answers
// each in about the same time), and at least a replay timer. A port that
// was open before the knock measured nothing.
func (v verify) opened(res Result, start, first, last time.Time, p *sender.Prober, before <-chan bool) Result {
	res.Verified = true
	res.Elapsed = time.Since(start)
	// The pre-probe started before every probe of the prober, so when the
	// port was open already it has answered by now, or is about to.
	select {
	case res.OpenBefore = <-before:
	case <-time.After(2 * time.Millisecond):
	}
	sent, took, _ := p.Winner()
	at := sent.Add(took)
	s := history.Sample{Rounds: res.Rounds, Open: max(at.Sub(last), 0)}
	if took < retransmitted {
		s.RTT = took
	}
	if !res.OpenBefore {
		res.Sample = s
	}
	if res.Rounds > 1 {
		res.settle = last.Add(max(v.timing.first, at.Sub(first)+timerMargin))
	}
	if v.log != nil {
		fmt.Fprintf(v.log, "knock: port %d on %s open after %s (%d round(s))\n", v.port, v.addr, res.Elapsed.Round(time.Millisecond), res.Rounds)
		switch {
		case res.OpenBefore:
			fmt.Fprintf(v.log, "knock: port %d accepted a connection before the knock: it proves nothing about the door, whose close cannot be checked on it\n", v.port)
		case s.RTT > 0:
			fmt.Fprintf(v.log, "knock: port seen open %s after the last knock; round trip %s\n", s.Open.Round(time.Millisecond), s.RTT.Round(100*time.Microsecond))
		default:
			fmt.Fprintf(v.log, "knock: port seen open %s after the last knock; round trip unknown (the probe's first SYN was lost)\n", s.Open.Round(time.Millisecond))
		}
	}
	return res
}

// settleAfter is when a round that ended at last has had its time to run
// the door's command, when the door was not seen open: one replay timer
// later.
func (v verify) settleAfter(last time.Time) time.Time {
	if last.IsZero() {
		return time.Time{}
	}
	return last.Add(v.timing.first)
}
