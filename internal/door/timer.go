package door

import (
	"time"

	"github.com/a-knock/knock/internal/history"
)

// The replay timer of a knockd sequence: how long the verify loop waits
// for the port after a round before it plays the round again.
//
// A replay that comes before the door could have answered is not a
// harmless retry: knockd forks the door's command for every complete
// sequence, so a round that arrives while the first is still being
// answered runs the command again, and a door whose command inserts a
// firewall rule (knockd's sample, the seed tutorial) inserts a second one
// that a single close leaves behind. So the loop waits as long as the door
// has been seen to need, learnt from its recent verified opens
// (internal/history), plus a margin:
//
//	timer = slowest open × 3/2 + 100 ms
//
// where an open's time runs from the last knock of the round to the port
// seen open: a round trip (the knock's way there, the probe's SYN-ACK's
// way back) plus the door's latency (knockd's capture buffer, the fork,
// the command), of the recent opens that took one round (see planFrom).
// A door never seen before gets firstContactTimer. Every round waits
// as long: a door that answers within the timer did not get the round,
// and a later replay would only be a slower one. Knock loss needs
// rounds: at 25% loss a round of three knocks gets through 42% of the
// time, and thirteen rounds (--retries 12) fail together 0.08% of the
// time; a timer that grew would fit fewer into the timeout.
//
// Measured in the WAN lab (docs/timers.md, cmd/knock/wan_lab_test.go):
// knockd 0.8 answers a loss-free knock over a veth 20-100 ms after its
// last packet (its capture buffer, the fork, iptables; a delayed command
// adds its delay), and over 150 ± 30 ms of round trip 180-300 ms. Three
// halves of the slowest of the last six plus 100 ms (150-250 ms on the
// veth, 430-550 ms over the WAN) leaves room for jitter, a busy machine
// and the prober's 100 ms back-off: of about 800 loss-free opens in the
// lab one took a second round (the machine was busy), and its rule was
// counted and closed. It still replays a lost round well inside a
// second.
//
// The first contact waits a second: it covers a 300 ms round trip (an
// intercontinental or mobile path) plus a door of 0.6 s (a script, the
// issue's slowest door), and it keeps ten rounds inside the default
// 10 s timeout, enough to open through 25% knock loss in 99.5% of
// tries (1 - 0.58^10). A door slower than that opens in two rounds the
// first time; the second round counts (Door.Close, history.Pending).
const (
	firstContactTimer = time.Second
	timerMargin       = 100 * time.Millisecond
)

// Plan is the replay timer a door uses, and what it was learnt from.
type Plan struct {
	// Timer is the wait after the first round before the first replay.
	Timer time.Duration
	// Learned is false while no one-round open is known (Timer is the
	// first-contact timer), and for SPA.
	Learned bool
	// Fixed is true for SPA, whose timer is not learnt.
	Fixed bool
	// Samples is how many recent verified opens are known.
	Samples int
	// RTT is the slowest round trip measured in those opens (0 when none
	// was). Open is the slowest time from the last knock to the port
	// seen open of the one-round opens, and Latency the door's share of
	// it: the slowest such open less its round trip.
	RTT, Open, Latency time.Duration
}

// timing is the plan as the verify loop uses it.
func (p Plan) timing() timing {
	return timing{first: p.Timer, max: p.Timer}
}

// planFrom computes the replay timer of a knockd sequence from the
// samples of its recent opens.
//
// Only one-round opens teach it. An open of several rounds does not say
// which round the door answered: a lost first round, answered late by the
// last, looks the same as a slow door that answered the first round just
// after the second was played. Taking such an open as a slow door made a
// lossy first contact teach a timer of several seconds, and with so few
// rounds left in the timeout later knocks failed; taking it as a lost
// round would teach a slow door a short timer for good. So while the
// recent opens hold no one-round open, the first-contact timer holds: a
// door slower than that opens in two rounds, each counted and closed.
func planFrom(samples []history.Sample) Plan {
	p := Plan{Timer: firstContactTimer, Samples: len(samples)}
	for _, s := range samples {
		p.RTT = max(p.RTT, s.RTT)
		if s.Rounds == 1 {
			p.Learned = true
			p.Open = max(p.Open, s.Open)
			p.Latency = max(p.Latency, s.Open-min(s.RTT, s.Open))
		}
	}
	if p.Learned {
		p.Timer = p.Open*3/2 + timerMargin
	}
	return p
}
