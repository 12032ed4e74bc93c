package door

import (
	"context"
	"fmt"
	"time"

	"github.com/a-knock/knock/internal/history"
)

// What a door keeps in the history (internal/history), under its key:
//
//   - every open: the result, for the picker;
//   - a verified open: what it measured, for the replay timer (Plan),
//     unless the wait port was open before the knock, which it notes
//     (a close cannot be checked on such a port);
//   - every open of a door with a close action: the rounds played, each
//     of which may have run the door's command, and when the last of
//     them has had its time to. A close by a door that opened nothing
//     itself (knock close NAME, the picker's close key) closes that many
//     times; every close takes what it closed off the count. So knock
//     NAME followed by knock close NAME leaves no rule behind, and
//     neither does knock ssh killed before it could close, once knock
//     close NAME runs.
//
// A profile keys its record by name. An ad hoc knock (knock HOST
// PORT..., which has no close) keys it by "@" and the address: it learns
// the replay timer of that address's door, and counts nothing. An ad hoc
// SPA request keeps nothing (its timer is fixed).

// maxSettle bounds the wait of a close for rounds to settle.
const maxSettle = 10 * time.Second

// historyKey is the door's record in the history, "" for none.
func (d *Door) historyKey() string {
	if d.T.Profile != nil {
		return d.T.Name
	}
	if _, ok := d.op.(*sequenceOpener); ok && d.T.Addr.IsValid() {
		return "@" + d.T.Addr.String()
	}
	return ""
}

// store is the history; nil when it has no place.
func (d *Door) store() *history.Store {
	if d.opts.History != nil {
		return d.opts.History
	}
	s, err := history.Default()
	if err != nil {
		d.vlogf("knock: history: %v", err)
		return nil
	}
	return s
}

func (d *Door) vlogf(format string, args ...any) {
	if d.opts.Verbose {
		fmt.Fprintf(d.opts.log(), format+"\n", args...)
	}
}

// Plan returns the replay timer the door's verify loop uses, and what it
// was learnt from: for a knockd or one-time sequence, its recent verified
// opens (see [planFrom]); SPA's is fixed.
func (d *Door) Plan() Plan {
	if _, ok := d.op.(*spaOpener); ok {
		return Plan{Timer: spaTiming.first, Fixed: true}
	}
	key := d.historyKey()
	s := d.store()
	if key == "" || s == nil {
		return planFrom(nil)
	}
	return planFrom(s.Get(key).Samples)
}

// remember records an open in the history. It is never fatal: knock
// works without a history, only slower at first contact.
func (d *Door) remember(res Result, openErr error) {
	key := d.historyKey()
	if key == "" || d.T.Profile == nil && !res.Verified {
		return // an ad hoc knock keeps only what it measured: the plain path stays free of files
	}
	s := d.store()
	if s == nil {
		return
	}
	now := time.Now()
	closable := d.op.closable()
	err := s.Update(key, func(r *history.Record) {
		r.OK, r.At = openErr == nil, now
		switch {
		case openErr != nil:
			r.Summary = oneLine(openErr.Error())
		case res.Verified:
			r.Summary = fmt.Sprintf("port %d open after %s", res.Port, res.Elapsed.Round(time.Millisecond))
		default:
			r.Summary = ""
		}
		if res.Verified {
			r.OpenBefore = res.OpenBefore
			if !res.OpenBefore {
				smp := res.Sample
				smp.At = now
				r.AddSample(smp)
			}
		}
		if closable && res.Rounds > 0 {
			r.Pending += res.Rounds
			if res.settle.After(r.Settle) {
				r.Settle = res.settle
			}
		}
	})
	if err != nil {
		d.vlogf("knock: history: %v", err)
	}
}

// pending returns how many rounds the history counts since the door was
// last closed, when they have settled, and whether the wait port was open
// before the last verified open.
func (d *Door) pending() (int, time.Time, bool) {
	key := d.historyKey()
	s := d.store()
	if key == "" || s == nil {
		return 0, time.Time{}, false
	}
	r := s.Get(key)
	return r.Pending, r.Settle, r.OpenBefore
}

// closed takes n closes off the history's count.
func (d *Door) closed(n int) {
	if d.opts.DryRun || n == 0 {
		return
	}
	key := d.historyKey()
	s := d.store()
	if key == "" || s == nil {
		return
	}
	err := s.Update(key, func(r *history.Record) {
		r.Pending = max(r.Pending-n, 0)
	})
	if err != nil {
		d.vlogf("knock: history: %v", err)
	}
}

// awaitSettle waits until settle, at most maxSettle, so that the close
// runs after every round's command.
func (d *Door) awaitSettle(ctx context.Context, settle time.Time) error {
	wait := min(time.Until(settle), maxSettle)
	if d.opts.DryRun || wait <= 0 {
		return nil
	}
	d.vlogf("knock: waiting %s for the last round to be answered before closing", wait.Round(time.Millisecond))
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
