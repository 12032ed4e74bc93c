package sender

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/a-knock/knock/internal/seq"
)

// ErrNotOpened is returned when the guarded port did not accept a
// connection in time.
var ErrNotOpened = errors.New("port did not open")

// Probe timing. A probe is a TCP connect to the guarded port. Probes
// overlap, so a probe whose SYN the closed door drops does not delay the
// next one: the port is seen open within one probe interval of the
// firewall change. The interval is short for a while after every round,
// when the door is most likely to open, then backs off so that a slow
// door is not flooded with SYNs.
const (
	probeFirst   = 10 * time.Millisecond  // interval right after a round
	probeFast    = 200 * time.Millisecond // how long it stays that short
	probeMax     = 100 * time.Millisecond // interval it backs off to
	probeTimeout = 1500 * time.Millisecond
	maxInFlight  = 64
)

// Round timing. knockd 0.8 reads packets through libpcap with a 50 ms
// buffer timeout, so it sees a knock up to 50 ms late, then forks and runs
// the door's command through the shell (an iptables call: 5-20 ms). In the
// benchmark lab a loss-free knock is seen open 20-125 ms after its last
// packet, 50 ms at the median, 85-95 ms at the 90th percentile. firstWait
// covers most of that, so a round that worked is rarely replayed (and a
// needless replay costs a second run of the door's command, not time: the
// prober keeps watching across rounds); a round that did not is replayed
// soon enough that under 25% loss the median time to open stays under 3x
// the loss-free time (README.md, Benchmarks). Later rounds wait longer,
// for slow doors and long round trips.
const (
	firstWait = 90 * time.Millisecond
	maxWait   = time.Second
)

// IsOpen tries one TCP connection to addr:port within timeout.
func IsOpen(ctx context.Context, addr netip.Addr, port uint16, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(addr, port).String())
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// WaitOpen polls addr:port until it accepts a TCP connection or wait runs
// out. It never has more than a bounded number of probes in flight.
func WaitOpen(ctx context.Context, addr netip.Addr, port uint16, wait time.Duration) error {
	pctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	p := startProber(pctx, addr, port)
	select {
	case <-p.opened:
		return nil
	case <-pctx.Done():
	}
	select {
	case <-p.opened:
		return nil
	default:
	}
	if err := ctx.Err(); errors.Is(err, context.Canceled) {
		return err
	}
	return fmt.Errorf("%s: %w within %s", netip.AddrPortFrom(addr, port), ErrNotOpened, wait.Round(time.Millisecond))
}

// prober probes one port until ctx ends; opened is closed at the first
// successful connection.
type prober struct {
	opened chan struct{}
	kick   chan struct{}
}

func startProber(ctx context.Context, addr netip.Addr, port uint16) *prober {
	p := &prober{opened: make(chan struct{}), kick: make(chan struct{}, 1)}
	go p.run(ctx, addr, port)
	return p
}

// restart makes the next probe go out now and the following ones at the
// short interval again: a round was just sent.
func (p *prober) restart() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

func (p *prober) run(ctx context.Context, addr netip.Addr, port uint16) {
	var once sync.Once
	slots := make(chan struct{}, maxInFlight)
	interval := probeFirst
	fastUntil := time.Now().Add(probeFast)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.opened:
			return
		case <-p.kick:
			interval = probeFirst
			fastUntil = time.Now().Add(probeFast)
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
			timer.Reset(0)
		case <-timer.C:
			select {
			case slots <- struct{}{}:
				go func() {
					defer func() { <-slots }()
					if IsOpen(ctx, addr, port, probeTimeout) {
						once.Do(func() { close(p.opened) })
					}
				}()
			default: // too many probes hang on a dropping firewall: skip one
			}
			timer.Reset(interval)
			if time.Now().After(fastUntil) {
				if interval = interval * 5 / 4; interval > probeMax {
					interval = probeMax
				}
			}
		}
	}
}

// Verify says which port proves that a knock worked and how long to try.
type Verify struct {
	Port    uint16        // guarded TCP port; 0 means no verification
	Timeout time.Duration // total time for all rounds
	Retries int           // extra rounds after the first
}

// Result reports what a verified knock did.
type Result struct {
	Rounds   int           // how many times the sequence was played
	Verified bool          // the guarded port accepted a connection
	Elapsed  time.Duration // from the first knock to the verdict
}

// Knock plays sq and, when v.Port is set, waits for the port to open,
// playing the sequence again up to v.Retries times. One prober watches the
// port for the whole call, so a door that opens late, after a later round
// has started, is still seen at once.
//
// A retry must fit knockd's state machine (knockd.c sniff(); each case
// below was checked against knockd 0.8 in the lab, see README.md,
// Benchmarks). knockd keeps one attempt per source address. A knock to
// the port the attempt expects advances it; a knock to any other port of a
// door kills it, and that killing packet is consumed: it does not start a
// new attempt, and while an attempt for our address is alive no packet can
// start one. The dead attempt is dropped when the next packet arrives. So
// after a round that lost its tail, knockd still waits half-way, and a
// plain replay fails: its first knock kills the old attempt and the rest
// fall on the floor. Under 25% loss that is a third of the failed rounds.
//
// Before a replay, knock therefore sends reset knocks: copies of a middle
// knock of the sequence, neither its first nor its last (see
// [resetKnock]). On a clean or dead state a middle knock does nothing, as
// it starts no door (unless the server has another door that begins with
// it, which no client can know). On an attempt that expects another knock it kills it;
// on one that expects exactly this knock it advances it, and the next copy
// kills it. The replay then starts clean. Spare copies cover their own
// loss; once the attempt is dead each further copy is ignored.
//
// The first knock must never be repeated: on a clean state two first
// knocks start an attempt and then kill it. Nor the last: it completes an
// attempt that waits for it, but the common close door of knockd's sample
// configuration plays the open sequence backwards, so its first knock is
// our last one, and copies of it would start close attempts that then
// swallow our replay (and a later close). A sequence of one or two knocks
// has no middle knock; it is replayed without reset, which still works on
// every second round.
func (s *Sender) Knock(ctx context.Context, sq seq.Sequence, v Verify) (Result, error) {
	start := s.now()
	var res Result
	if v.Port == 0 {
		res.Rounds = 1
		err := s.Send(ctx, sq)
		res.Elapsed = s.now().Sub(start)
		return res, err
	}
	// Timers run on the real clock; s.now only reports.
	deadline := time.Now().Add(v.Timeout)
	vctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	rounds := v.Retries + 1
	reset, hasReset := resetKnock(sq)
	copies := 0
	if hasReset {
		copies = resetCopies(sq, reset)
	}
	var lost lostPackets
	var p *prober
	for round := 0; round < rounds; round++ {
		knocks := sq
		if round > 0 && hasReset {
			knocks = make(seq.Sequence, 0, copies+len(sq))
			for i := 0; i < copies; i++ {
				knocks = append(knocks, reset)
			}
			knocks = append(knocks, sq...)
		}
		if round > 0 && s.opts.Log != nil {
			fmt.Fprintf(s.opts.Log, "knock: port %d not open yet, playing the sequence again after %d reset knock(s) (round %d of %d)\n", v.Port, len(knocks)-len(sq), round+1, rounds)
		}
		if err := s.play(vctx, knocks, &lost); err != nil {
			if ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
				res.Elapsed = s.now().Sub(start)
				return res, err
			}
			break // the time ran out while pacing a round
		}
		res.Rounds++
		if p == nil {
			p = startProber(vctx, s.addr, v.Port)
		} else {
			p.restart()
		}
		wait := roundWait(round, rounds, time.Until(deadline))
		if wait <= 0 {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-p.opened:
			t.Stop()
			res.Verified = true
			res.Elapsed = s.now().Sub(start)
			return res, nil
		case <-t.C:
		case <-vctx.Done():
			t.Stop()
		}
		if vctx.Err() != nil {
			break
		}
	}
	if p != nil {
		select {
		case <-p.opened:
			res.Verified = true
			res.Elapsed = s.now().Sub(start)
			return res, nil
		default:
		}
	}
	res.Elapsed = s.now().Sub(start)
	if err := ctx.Err(); errors.Is(err, context.Canceled) {
		return res, err
	}
	return res, fmt.Errorf("%s after %d round(s) in %s: %w%s", netip.AddrPortFrom(s.addr, v.Port), res.Rounds, res.Elapsed.Round(time.Millisecond), ErrNotOpened, lost.String())
}

// play sends knocks paced Delay apart, measured from the first. A packet
// that the local stack refuses to send (a local firewall DROP gives EPERM,
// a full queue ENOBUFS) is as lost as one dropped on the way, which the
// rounds already cope with, so it is counted and the round goes on: stopping
// would turn one lost knock into a broken sequence. Other errors end Knock.
func (s *Sender) play(ctx context.Context, knocks seq.Sequence, lost *lostPackets) error {
	start := time.Now()
	for i, k := range knocks {
		if i > 0 && s.opts.Delay > 0 {
			if err := sleepUntil(ctx, start.Add(time.Duration(i)*s.opts.Delay)); err != nil {
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		lost.sent++
		if err := s.knock(k); err != nil {
			if !isLostPacket(err) {
				return fmt.Errorf("knock %d to %s: %w", i+1, s.addr, err)
			}
			lost.n++
			lost.last = err
		}
	}
	return nil
}

// lostPackets counts knocks the local stack refused to send.
type lostPackets struct {
	sent, n int
	last    error
}

// String is the suffix of the final error: it names no port, as ports are
// the secret.
func (l *lostPackets) String() string {
	if l.n == 0 {
		return ""
	}
	var why error = l.last
	var errno syscall.Errno
	if errors.As(l.last, &errno) {
		why = errno
	}
	return fmt.Sprintf(" (%d of %d knock packets could not be sent: %v)", l.n, l.sent, why)
}

func isLostPacket(err error) bool {
	return errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.EAGAIN)
}

// roundWait is how long to wait for the port after a round before playing
// the next one: firstWait, growing by half each round up to maxWait, never
// more than an even share of the time left; the last round gets all of it.
func roundWait(round, rounds int, remaining time.Duration) time.Duration {
	if round >= rounds-1 {
		return remaining
	}
	w := firstWait
	for i := 0; i < round && w < maxWait; i++ {
		w = w * 3 / 2
	}
	if w > maxWait {
		w = maxWait
	}
	if share := remaining / time.Duration(rounds-round); w > share {
		w = share
	}
	return w
}

// resetCopies is how many copies of the reset knock k to send: enough to
// kill an attempt at any stage, even where k is expected several times in
// a row, plus two spares against loss.
func resetCopies(sq seq.Sequence, k seq.Knock) int {
	// An attempt at stage s absorbs one copy per consecutive knock equal
	// to k from s on; one more kills it.
	need := 1
	for s := 1; s < len(sq); s++ {
		run := 0
		for s+run < len(sq) && sq[s+run] == k {
			run++
		}
		need = max(need, run+1)
	}
	return need + 2
}

// resetKnock picks the knock used to reset knockd's state before a retry:
// a knock of the sequence other than its first and its last, and equal to
// neither, nearest the middle.
func resetKnock(sq seq.Sequence) (seq.Knock, bool) {
	if len(sq) < 3 {
		return seq.Knock{}, false
	}
	first, last := sq[0], sq[len(sq)-1]
	for i := len(sq) / 2; i < len(sq)-1; i++ {
		if sq[i] != first && sq[i] != last {
			return sq[i], true
		}
	}
	for i := 1; i < len(sq); i++ {
		if sq[i] != sq[0] && sq[i] != sq[len(sq)-1] {
			return sq[i], true
		}
	}
	return seq.Knock{}, false
}
