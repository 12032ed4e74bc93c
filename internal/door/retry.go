package door

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/a-knock/knock/internal/sender"
)

// timing is how long a kind of door is given to open after a round before
// the round is played again: first after the first round, growing by
// half each round up to max.
//
// For knockd sequences: knockd 0.8 reads packets through libpcap with a
// 50 ms buffer timeout, so it sees a knock up to 50 ms late, then forks
// and runs the door's command through the shell (an iptables call: 5-20
// ms). In the benchmark lab a loss-free knock is seen open 20-125 ms after
// its last packet, 50 ms at the median, 85-95 ms at the 90th percentile.
// A first wait of 90 ms covers most of that, so a round that worked is
// rarely replayed, and a round that did not is replayed soon enough that
// under 25% loss the median time to open stays under 3x the loss-free
// time. For SPA, fwknopd decrypts and runs iptables too; a fresh packet is
// sent after a second at the earliest.
type timing struct {
	first, max time.Duration
}

var (
	sequenceTiming = timing{first: 90 * time.Millisecond, max: time.Second}
	spaTiming      = timing{first: time.Second, max: 2500 * time.Millisecond}
)

// roundWait is how long to wait for the port after round (0-based) of
// rounds before playing the next: the timing's first wait, growing by
// half each round up to its max, never more than an even share of the
// time left; the last round gets all of it.
func (tm timing) roundWait(round, rounds int, remaining time.Duration) time.Duration {
	if round >= rounds-1 {
		return remaining
	}
	w := tm.first
	for i := 0; i < round && w < tm.max; i++ {
		w = w * 3 / 2
	}
	w = min(w, tm.max)
	if share := remaining / time.Duration(rounds-round); w > share {
		w = share
	}
	return w
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
// v.timeout. One prober watches the port for the whole call, so a door
// that opens late, after a later round has started, is still seen at
// once. round(ctx, n) plays round n; a replay of a knockd sequence, for
// example, starts with reset knocks, and an SPA round is a fresh packet.
// The error for a port that never opened wraps [sender.ErrNotOpened].
func retry(ctx context.Context, v verify, round func(ctx context.Context, n int) error) (Result, error) {
	start := time.Now()
	res := Result{Port: v.port}
	deadline := start.Add(v.timeout)
	vctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	rounds := v.retries + 1
	var p *sender.Prober
	for n := 0; n < rounds; n++ {
		if n > 0 && v.log != nil {
			fmt.Fprintf(v.log, "knock: port %d not open yet, playing again (round %d of %d)\n", v.port, n+1, rounds)
		}
		if err := round(vctx, n); err != nil {
			if ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
				res.Elapsed = time.Since(start)
				return res, err
			}
			break // the time ran out while pacing a round
		}
		res.Rounds++
		if p == nil {
			p = sender.StartProber(vctx, v.addr, v.port)
		} else {
			p.Restart()
		}
		wait := v.timing.roundWait(n, rounds, time.Until(deadline))
		if wait <= 0 {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-p.Opened():
			t.Stop()
			return v.opened(res, start), nil
		case <-t.C:
		case <-vctx.Done():
			t.Stop()
		}
		if vctx.Err() != nil {
			break
		}
	}
	if p != nil && p.IsOpened() {
		return v.opened(res, start), nil
	}
	res.Elapsed = time.Since(start)
	if err := ctx.Err(); errors.Is(err, context.Canceled) {
		return res, err
	}
	return res, fmt.Errorf("%s after %d round(s) in %s: %w", netip.AddrPortFrom(v.addr, v.port), res.Rounds, res.Elapsed.Round(time.Millisecond), sender.ErrNotOpened)
}

func (v verify) opened(res Result, start time.Time) Result {
	res.Verified = true
	res.Elapsed = time.Since(start)
	if v.log != nil {
		fmt.Fprintf(v.log, "knock: port %d on %s open after %s (%d round(s))\n", v.port, v.addr, res.Elapsed.Round(time.Millisecond), res.Rounds)
	}
	return res
}
