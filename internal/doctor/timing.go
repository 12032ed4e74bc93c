package doctor

import (
	"fmt"
	"time"

	"github.com/a-knock/knock/internal/door"
)

// KnockTiming reports what an open through the door measured and the
// replay timer the door uses from now on (see door.Plan, docs/timers.md):
// the round trip, the door's latency (the time from the last knock to
// the port seen open, less the round trip) and the timer, with what it
// was learnt from. timeout is the verify timeout of the knocks (0 for
// the default): a timer that leaves few rounds in it gets a warning, as
// knock loss then fails the knock.
func KnockTiming(res door.Result, p door.Plan, timeout time.Duration) []Result {
	if timeout <= 0 {
		timeout = door.DefaultTimeout
	}
	var out []Result
	s := res.Sample
	if res.OpenBefore {
		out = append(out, Result{Status: Warn, Check: "round-trip", Message: "not measured: the port accepted a connection before the knock, so its opening says nothing about the door (is it the port the door guards?)"})
	} else if res.Verified {
		rtt := "unknown (the probe that saw the port open had lost its first SYN)"
		if s.RTT > 0 {
			rtt = ms(s.RTT)
		}
		if p.RTT > 0 && p.Samples > 1 {
			rtt += fmt.Sprintf("; the slowest of the last %d opens %s", p.Samples, ms(p.RTT))
		}
		out = append(out, Result{Status: OK, Check: "round-trip", Message: rtt})
		msg := fmt.Sprintf("port seen open %s after the last knock", ms(s.Open))
		if s.RTT > 0 {
			msg += fmt.Sprintf(", %s more than a round trip", ms(max(s.Open-s.RTT, 0)))
		}
		if res.Rounds > 1 {
			msg += fmt.Sprintf(" (after %d rounds: which one the door answered is unknown)", res.Rounds)
		}
		if p.Learned {
			msg += fmt.Sprintf("; recent one-round opens: the slowest %s, a door latency of up to %s", ms(p.Open), ms(p.Latency))
		}
		out = append(out, Result{Status: OK, Check: "door-latency", Message: msg})
	}
	var timer string
	switch {
	case p.Fixed:
		timer = fmt.Sprintf("%s, growing to %s (SPA: fixed; each round is a fresh packet)", ms(p.Timer), ms(2500*time.Millisecond))
	case p.Learned:
		timer = fmt.Sprintf("%s: 3/2 of the slowest recent one-round open (%s) plus %s", ms(p.Timer), ms(p.Open), ms(100*time.Millisecond))
	case p.Samples > 0:
		timer = fmt.Sprintf("%s, as at first contact: none of the last %d opens took one round, so none shows how long the door takes", ms(p.Timer), p.Samples)
	default:
		timer = fmt.Sprintf("%s (first contact)", ms(p.Timer))
	}
	timer = "a round is played again after " + timer
	st := OK
	if fit := int(timeout / max(p.Timer, time.Millisecond)); fit < 8 {
		st = Warn
		timer += fmt.Sprintf("; only %d round(s) fit in the %s timeout, too few to get through knock loss (give --timeout)", fit, timeout)
	}
	return append(out, Result{Status: st, Check: "replay-timer", Message: timer})
}

// ms prints a duration in milliseconds, a short one to a tenth.
func ms(d time.Duration) string {
	if d < 10*time.Millisecond {
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}
