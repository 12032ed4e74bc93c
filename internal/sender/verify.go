package sender

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/knock-dev/knock/internal/seq"
)

// ErrNotOpened is returned when the guarded port did not accept a
// connection in time.
var ErrNotOpened = errors.New("port did not open")

// Probe timing. A probe is a TCP connect to the guarded port; probes
// overlap so that the port is seen open within probeEvery of the firewall
// change, however long a dropped SYN would otherwise hang.
const (
	probeEvery   = 40 * time.Millisecond
	probeTimeout = 1500 * time.Millisecond
	maxInFlight  = 16
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
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	opened := make(chan struct{}, maxInFlight)
	done := make(chan struct{}, maxInFlight)
	inFlight := 0
	tick := time.NewTicker(probeEvery)
	defer tick.Stop()
	start := func() {
		inFlight++
		go func() {
			if IsOpen(ctx, addr, port, probeTimeout) {
				opened <- struct{}{}
			}
			done <- struct{}{}
		}()
	}
	start()
	for {
		select {
		case <-opened:
			return nil
		case <-done:
			inFlight--
		case <-tick.C:
			if inFlight < maxInFlight {
				start()
			}
		case <-ctx.Done():
			if err := context.Cause(ctx); errors.Is(err, context.Canceled) {
				return err
			}
			return fmt.Errorf("%s: %w within %s", netip.AddrPortFrom(addr, port), ErrNotOpened, wait.Round(time.Millisecond))
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
// playing the sequence again up to v.Retries times.
//
// A retry must fit knockd's state machine (see knockd-behaviour.md): a
// knock to a wrong port kills an attempt and the next packet clears it and
// may start afresh, but an attempt that is still alive half-way (its tail
// was lost) turns the first knock of a retry into the killing packet, and
// the rest of the retry is then lost. So a retry is preceded by two reset
// knocks to a middle port of the sequence, which is never a first port:
// whatever state knockd holds for us, the first kills it (or, if it was the
// one expected, completes or advances it and the second kills it), and the
// sequence that follows starts clean.
func (s *Sender) Knock(ctx context.Context, sq seq.Sequence, v Verify) (Result, error) {
	start := s.now()
	var res Result
	if v.Port == 0 {
		res.Rounds = 1
		err := s.Send(ctx, sq)
		res.Elapsed = s.now().Sub(start)
		return res, err
	}
	deadline := start.Add(v.Timeout)
	rounds := v.Retries + 1
	reset, hasReset := resetKnock(sq)
	for round := 0; round < rounds; round++ {
		if round > 0 && hasReset {
			if err := s.Send(ctx, seq.Sequence{reset, reset}); err != nil {
				return res, err
			}
		}
		res.Rounds++
		if err := s.Send(ctx, sq); err != nil {
			return res, err
		}
		wait := roundWait(round, rounds, time.Until(deadline))
		if wait <= 0 {
			break
		}
		err := WaitOpen(ctx, s.addr, v.Port, wait)
		if err == nil {
			res.Verified = true
			res.Elapsed = s.now().Sub(start)
			return res, nil
		}
		if !errors.Is(err, ErrNotOpened) {
			return res, err
		}
		if s.opts.Log != nil && round+1 < rounds {
			fmt.Fprintf(s.opts.Log, "knock: port %d not open yet, playing the sequence again (round %d of %d)\n", v.Port, round+2, rounds)
		}
	}
	res.Elapsed = s.now().Sub(start)
	return res, fmt.Errorf("%s after %d round(s) in %s: %w", netip.AddrPortFrom(s.addr, v.Port), res.Rounds, res.Elapsed.Round(time.Millisecond), ErrNotOpened)
}

// roundWait splits the remaining time: the early rounds get a short wait
// (a port opens within milliseconds of a complete sequence), the last one
// whatever is left.
func roundWait(round, rounds int, remaining time.Duration) time.Duration {
	if round == rounds-1 {
		return remaining
	}
	w := 400 * time.Millisecond << round
	left := rounds - round
	if share := remaining / time.Duration(left); w > share {
		w = share
	}
	return w
}

// resetKnock picks the knock used to reset knockd's state before a retry:
// a knock of the sequence other than its first, whose port differs from
// the first knock's.
func resetKnock(sq seq.Sequence) (seq.Knock, bool) {
	if len(sq) < 3 {
		return seq.Knock{}, false
	}
	for i := len(sq) / 2; i < len(sq)-1; i++ {
		if sq[i] != sq[0] {
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
