package doctor

import (
	"strings"
	"testing"
	"time"

	"github.com/a-knock/knock/internal/door"
	"github.com/a-knock/knock/internal/history"
)

func TestKnockTiming(t *testing.T) {
	ms := time.Millisecond
	verified := door.Result{Verified: true, Rounds: 1, Sample: history.Sample{Rounds: 1, RTT: 152 * ms, Open: 200 * ms}}
	learned := door.Plan{Timer: 490 * ms, Learned: true, Samples: 3, RTT: 180 * ms, Open: 260 * ms, Latency: 80 * ms}
	for _, tc := range []struct {
		name    string
		res     door.Result
		plan    door.Plan
		timeout time.Duration
		want    []string // in the lines, in order
		warn    bool
	}{
		{"learnt", verified, learned, 0, []string{
			"ok    round-trip: 152ms; the slowest of the last 3 opens 180ms",
			"ok    door-latency: port seen open 200ms after the last knock, 48ms more than a round trip; recent one-round opens: the slowest 260ms, a door latency of up to 80ms",
			"ok    replay-timer: a round is played again after 490ms: 3/2 of the slowest recent one-round open (260ms) plus 100ms",
		}, false},
		{"a veth", door.Result{Verified: true, Rounds: 1, Sample: history.Sample{Rounds: 1, RTT: 180 * time.Microsecond, Open: 54 * ms}},
			door.Plan{Timer: 206 * ms, Learned: true, Samples: 1, RTT: 180 * time.Microsecond, Open: 71 * ms, Latency: 70 * ms}, 0,
			[]string{"round-trip: 200µs", "54ms after the last knock, 54ms more than a round trip"}, false},
		{"first contact", door.Result{}, door.Plan{Timer: time.Second}, 0, []string{
			"ok    replay-timer: a round is played again after 1s (first contact)",
		}, false},
		{"no one-round open yet", door.Result{Verified: true, Rounds: 3, Sample: history.Sample{Rounds: 3, Open: 30 * ms}},
			door.Plan{Timer: time.Second, Samples: 2, RTT: 150 * ms}, 0, []string{
				"round-trip: unknown",
				"door-latency: port seen open 30ms after the last knock (after 3 rounds: which one the door answered is unknown)",
				"replay-timer: a round is played again after 1s, as at first contact: none of the last 2 opens took one round",
			}, false},
		{"open before the knock", door.Result{Verified: true, Rounds: 1, OpenBefore: true}, door.Plan{Timer: time.Second}, 0, []string{
			"warn  round-trip: not measured: the port accepted a connection before the knock",
			"ok    replay-timer: a round is played again after 1s (first contact)",
		}, true},
		{"spa", door.Result{}, door.Plan{Timer: time.Second, Fixed: true}, 0, []string{"1s, growing to 2.5s (SPA: fixed"}, false},
		{"too few rounds in the timeout", verified, door.Plan{Timer: 2 * time.Second, Learned: true, Samples: 1, Open: 1250 * ms}, 0,
			[]string{"warn  replay-timer: a round is played again after 2s", "only 5 round(s) fit in the 10s timeout"}, true},
		{"a longer timeout", verified, door.Plan{Timer: 2 * time.Second, Learned: true, Samples: 1, Open: 1250 * ms}, 30 * time.Second,
			[]string{"ok    replay-timer"}, false},
	} {
		var lines []string
		warned := false
		for _, r := range KnockTiming(tc.res, tc.plan, tc.timeout) {
			lines = append(lines, r.String())
			warned = warned || r.Status != OK
		}
		all := strings.Join(lines, "\n")
		rest := all
		for _, w := range tc.want {
			i := strings.Index(rest, w)
			if i < 0 {
				t.Errorf("%s: %q missing or out of order in:\n%s", tc.name, w, all)
				break
			}
			rest = rest[i+len(w):]
		}
		if warned != tc.warn {
			t.Errorf("%s: warned %v, want %v:\n%s", tc.name, warned, tc.warn, all)
		}
	}
}
