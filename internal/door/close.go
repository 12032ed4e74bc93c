package door

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/a-knock/knock/internal/sender"
)

// A close sequence is knocks like the open one, and on a lossy path it is
// lost as often: one lost knock of three leaves the door open for good. So
// a door with a wait port checks that the port stops accepting after its
// closes, and plays the close again while it does not, as often and as
// long as an open may replay (a port that accepts whatever the door does
// gets a warning). A new connection is what the firewall rule admits; a
// connection already made (ssh's) is not affected by the close, nor does
// it make the port look open.
//
// A port that is closed does not answer, so "closed" is a silence: a
// volley of closeVolley probes, none of which is answered within a probe
// timeout. A volley sent before the close took effect is answered (the
// port is still open) and another follows; one probe lost on the way is
// made up for by the others. The door is given a replay timer to take
// each close ([Plan], the same time it is given to answer an open), and
// the probe timeout covers twice the slowest round trip it has seen.
const (
	closeVolley     = 3
	closeProbeFloor = 300 * time.Millisecond
	closeProbeMax   = 1500 * time.Millisecond
	// closeProbeUnknown is the probe timeout when no round trip was ever
	// measured.
	closeProbeUnknown = time.Second
)

// closeCheck watches a port go closed.
type closeCheck struct {
	addr   netip.Addr
	port   uint16
	window time.Duration // how long a close is given to take effect
	probe  time.Duration // an unanswered probe waits this long
	// isOpen is sender.IsOpen; tests replace it.
	isOpen func(ctx context.Context, addr netip.Addr, port uint16, timeout time.Duration) bool
}

func newCloseCheck(addr netip.Addr, port uint16, p Plan) closeCheck {
	probe := closeProbeUnknown
	if p.RTT > 0 {
		probe = min(max(2*p.RTT+200*time.Millisecond, closeProbeFloor), closeProbeMax)
	}
	return closeCheck{addr: addr, port: port, window: p.Timer, probe: probe, isOpen: sender.IsOpen}
}

// closedWithin sends volleys until one goes unanswered (true: the port is
// closed) or the window has passed since the call with the port still
// answering (false).
func (c closeCheck) closedWithin(ctx context.Context) (bool, error) {
	start := time.Now()
	for range 10_000 {
		if c.volleyUnanswered(ctx) {
			if err := ctx.Err(); err != nil {
				return false, err
			}
			return true, nil
		}
		if time.Since(start) >= c.window {
			return false, nil
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	return false, nil
}

// volleyUnanswered sends closeVolley probes at once and reports whether
// none was answered.
func (c closeCheck) volleyUnanswered(ctx context.Context) bool {
	var wg sync.WaitGroup
	var mu sync.Mutex
	answered := false
	for range closeVolley {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c.isOpen(ctx, c.addr, c.port, c.probe) {
				mu.Lock()
				answered = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return !answered
}

// verifyClosed checks after a close that the wait port stopped accepting
// and plays the close again (a replay, with reset knocks) while it does,
// as often and as long as an open may retry. It returns how many closes
// it added.
func (d *Door) verifyClosed(ctx context.Context, c closeCheck) (int, error) {
	deadline := time.Now().Add(timeout(d.opts))
	extra := 0
	for {
		closed, err := c.closedWithin(ctx)
		if err != nil {
			return extra, err
		}
		if closed {
			d.vlogf("knock: port %d closed", c.port)
			return extra, nil
		}
		if extra >= d.opts.Retries || time.Now().After(deadline) {
			fmt.Fprintf(d.opts.log(), "knock: warning: port %d on %s still accepts connections after %d close sequence(s) more; is it the port the door guards?\n", c.port, d.T.where(), extra)
			return extra, nil
		}
		d.vlogf("knock: port %d still open %s after the close, playing it again", c.port, c.window.Round(time.Millisecond))
		if err := d.replayClose(ctx); err != nil {
			return extra, err
		}
		extra++
	}
}

// replayClose plays the close action again after one that may have lost
// a knock.
func (d *Door) replayClose(ctx context.Context) error {
	if o, ok := d.op.(*sequenceOpener); ok {
		return o.closeKnocks(ctx, true)
	}
	return d.op.close(ctx)
}

// closeAll closes a door n times, or, when n is 0, as many times as the
// history counts rounds since the last close (at least once). It first
// waits until settle, when every round played has had its time to run
// the door's command: knockd runs each in a process of its own, and a
// close that overtakes one leaves its rule. With a wait port it then
// checks that the port closed ([Door.verifyClosed]), unless the port was
// open before the knock (before): then it says nothing about the door.
// The history's count goes down by the closes played.
func (d *Door) closeAll(ctx context.Context, n int, settle time.Time, before bool) error {
	if n == 0 {
		n, settle, before = d.pending()
	}
	n = max(n, 1)
	if err := d.awaitSettle(ctx, settle); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		play := d.op.close
		if i > 0 {
			play = d.replayClose
		}
		if err := play(ctx); err != nil {
			d.closed(i)
			return err
		}
	}
	port := d.T.WaitPort()
	if port == 0 || before || d.opts.DryRun {
		d.closed(n)
		return nil
	}
	extra, err := d.verifyClosed(ctx, newCloseCheck(d.T.Addr, port, d.Plan()))
	d.closed(n + extra)
	return err
}
