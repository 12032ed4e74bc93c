package sender

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/a-knock/knock/internal/seq"
)

// Replay returns the knocks of a replay round of sq: reset knocks, then
// sq. A sequence without a usable reset knock is replayed as it is.
//
// A retry must fit knockd's state machine (knockd.c sniff(); each case
// below was checked against knockd 0.8 in the lab, see docs/knocking.md
// and docs/benchmarks.md). knockd keeps one attempt per source address. A knock to
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
func Replay(sq seq.Sequence) seq.Sequence {
	reset, ok := resetKnock(sq)
	if !ok {
		return sq
	}
	copies := resetCopies(sq, reset)
	knocks := make(seq.Sequence, 0, copies+len(sq))
	for i := 0; i < copies; i++ {
		knocks = append(knocks, reset)
	}
	return append(knocks, sq...)
}

// Play sends knocks paced Delay apart, measured from the first, for a
// round that a verify loop may replay. A packet that the local stack
// refuses to send (a local firewall DROP gives EPERM, a full queue
// ENOBUFS) is as lost as one dropped on the way, which the rounds already
// cope with, so it is counted in lost and the round goes on: stopping
// would turn one lost knock into a broken sequence. Other errors end the
// round.
func (s *Sender) Play(ctx context.Context, knocks seq.Sequence, lost *Lost) error {
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

// Lost counts knocks the local stack refused to send.
type Lost struct {
	sent, n int
	last    error
}

// String is the suffix of a final error: it names no port, as ports are
// the secret.
func (l *Lost) String() string {
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

// resetCopies is how many copies of the reset knock k to send: enough to
// kill an attempt at any stage, even where k is expected several times in
// a row, plus three spares against loss. The spares matter with knockd's
// mirrored close door: an attempt of it that one copy advanced, and no
// second copy killed, waits for the first knock of the replay, which
// completes it (measured in the WAN lab at 25% loss: one spare more cuts
// that from about 5% to under 2% of such rounds).
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
	return need + 3
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
