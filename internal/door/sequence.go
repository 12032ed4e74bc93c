package door

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/a-knock/knock/internal/exit"
	"github.com/a-knock/knock/internal/profiles"
	"github.com/a-knock/knock/internal/sender"
	"github.com/a-knock/knock/internal/seq"
)

// seqSettings are how a sequence is sent: the profile's settings, then
// the overrides.
type seqSettings struct {
	send       sender.Options
	seqTimeout time.Duration
	// secret marks a sequence from a profile: errors must not name its
	// knocks (see redactKnockError).
	secret bool
	err    error // a malformed profile setting, reported on use
}

func sequenceOptions(p *profiles.Profile, opts Options) seqSettings {
	var s seqSettings
	if p != nil {
		s.secret = true
		s.send.Delay = time.Duration(p.DelayMS) * time.Millisecond
		if s.send.Method, s.err = sender.ParseMethod(p.Method); s.err == nil {
			s.send.Flags, s.err = seq.ParseFlags(p.TCPFlags)
		}
		if s.err != nil {
			s.err = fmt.Errorf("profile %q: %w", p.Name, s.err)
		}
		s.seqTimeout = time.Duration(p.SeqTimeout) * time.Second
	}
	o := opts.Overrides
	if o.Delay != 0 {
		s.send.Delay = o.Delay
	}
	if o.Method != sender.Auto {
		s.send.Method = o.Method
	}
	if !o.Flags.IsZero() {
		s.send.Flags = o.Flags
	}
	if o.Payload != nil {
		s.send.Payload = o.Payload
	}
	if o.SeqTimeout != 0 {
		s.seqTimeout = o.SeqTimeout
	}
	return s
}

// sequenceOpener plays a knockd sequence: the profile's, an ad hoc one,
// or (for otpOpener) a one-time one.
type sequenceOpener struct {
	d    *Door
	seq  seq.Sequence // the open sequence
	opts seqSettings
}

func (o *sequenceOpener) open(ctx context.Context) (Result, error) {
	res, err := o.openSeq(ctx, o.seq)
	t := o.d.T
	if err == nil && res.Port == 0 && t.Profile != nil && !o.d.opts.DryRun {
		fmt.Fprintf(o.d.opts.log(), "knock: hint: knocked %s without verifying; to check that the door opened, give --wait PORT or save one: knock profile edit %s --wait-port PORT\n", t.Name, t.Name)
	}
	return res, err
}

func (o *sequenceOpener) closable() bool {
	p := o.d.T.Profile
	return p != nil && p.Close != ""
}

// openSeq plays sq and, with a wait port, verifies it.
func (o *sequenceOpener) openSeq(ctx context.Context, sq seq.Sequence) (Result, error) {
	t, opts := o.d.T, o.d.opts
	port := t.WaitPort()
	if o.opts.err != nil {
		return Result{}, o.opts.err
	}
	o.warnSeqTimeout(sq)
	if opts.DryRun {
		o.describe(sq, port)
		return Result{Port: port}, nil
	}
	send := o.opts.send
	if opts.Verbose {
		send.Log = opts.log()
	}
	s, err := sender.New(t.Addr, send)
	if err != nil {
		return Result{}, exit.Usage(err)
	}
	defer s.Close()
	if port == 0 {
		start := time.Now()
		err := s.Send(ctx, sq)
		res := Result{Rounds: 1, Elapsed: time.Since(start)}
		if o.closable() {
			// Unverified: the door's command may run for a timer yet.
			res.settle = time.Now().Add(o.d.Plan().Timer)
		}
		if err != nil {
			return res, o.sendError(err)
		}
		return res, nil
	}
	var lost sender.Lost
	v := verify{addr: t.Addr, port: port, timeout: timeout(opts), retries: opts.Retries, timing: o.d.Plan().timing()}
	if opts.Verbose {
		v.log = opts.log()
	}
	res, err := retry(ctx, v, func(ctx context.Context, n int) error {
		knocks := sq
		if n > 0 {
			knocks = sender.Replay(sq)
		}
		return s.Play(ctx, knocks, &lost)
	})
	if err != nil {
		if errors.Is(err, sender.ErrNotOpened) {
			return res, fmt.Errorf("knocked %s but %w%s", t.where(), err, lost.String())
		}
		return res, o.sendError(err)
	}
	return res, nil
}

func (o *sequenceOpener) sendError(err error) error {
	if o.opts.secret {
		return redactKnockError(o.d.T.where(), err)
	}
	return err
}

func (o *sequenceOpener) close(ctx context.Context) error { return o.closeKnocks(ctx, false) }

// closeKnocks plays the close sequence; a replay starts with reset
// knocks, as an open's does (see [sender.Replay]): an earlier close that
// lost a knock leaves knockd waiting half-way.
func (o *sequenceOpener) closeKnocks(ctx context.Context, replay bool) error {
	t, opts := o.d.T, o.d.opts
	if o.opts.err != nil {
		return o.opts.err
	}
	sq, err := t.Profile.CloseSeq()
	if err != nil {
		return fmt.Errorf("profile %q: malformed close sequence", t.Name)
	}
	if len(sq) == 0 {
		fmt.Fprintf(opts.log(), "knock: warning: profile %q has no close sequence; nothing sent (add one: knock profile edit %s --close SEQ)\n", t.Name, t.Name)
		return nil
	}
	if opts.DryRun {
		o.describe(sq, 0)
		return nil
	}
	send := o.opts.send
	if opts.Verbose {
		send.Log = opts.log()
	}
	s, err := sender.New(t.Addr, send)
	if err != nil {
		return exit.Usage(err)
	}
	defer s.Close()
	if replay {
		sq = sender.Replay(sq)
	}
	// A knock the local stack refuses is as lost as one dropped on the
	// way: the close is checked and played again where it can be.
	var lost sender.Lost
	if err := s.Play(ctx, sq, &lost); err != nil {
		return o.sendError(err)
	}
	return nil
}

// warnSeqTimeout warns when the sequence cannot finish inside the door's
// seq_timeout.
func (o *sequenceOpener) warnSeqTimeout(sq seq.Sequence) {
	d := time.Duration(len(sq)-1) * o.opts.send.Delay
	if o.opts.seqTimeout > 0 && d >= o.opts.seqTimeout {
		fmt.Fprintf(o.d.opts.log(), "knock: warning: %d knocks %s apart take %s, not inside seq_timeout %s; knockd will drop the attempt\n",
			len(sq), o.opts.send.Delay, d, o.opts.seqTimeout)
	}
}

// describe prints the --dry-run plan: one line per packet.
func (o *sequenceOpener) describe(sq seq.Sequence, port uint16) {
	t, opts := o.d.T, o.d.opts
	method := sender.Connect
	if o.opts.send.Method == sender.Raw || (o.opts.send.Method == sender.Auto && o.opts.send.Flags.NeedsRaw()) {
		method = sender.Raw
	}
	w := opts.out()
	fmt.Fprintf(w, "would knock %s (%s) with %d packet(s):\n", t.Addr, t.Host, len(sq))
	for _, l := range sender.Describe(t.Addr, sq, o.opts.send, method) {
		fmt.Fprintln(w, "  "+l)
	}
	if port != 0 {
		fmt.Fprintf(w, "then wait up to %s for tcp port %d, replaying up to %d time(s)\n", timeout(opts), port, opts.Retries)
	}
}

func timeout(o Options) time.Duration {
	if o.Timeout <= 0 {
		return DefaultTimeout
	}
	return o.Timeout
}

// redactedError keeps err for errors.Is/As (exit codes) but prints msg,
// which names no knock of the sequence.
type redactedError struct {
	msg string
	err error
}

func (e redactedError) Error() string { return e.msg }
func (e redactedError) Unwrap() error { return e.err }

// redactKnockError rewrites a send error of a stored (secret) sequence:
// the sender's text names the knock ("knock 1 (7000:tcp) ...") and the
// socket's text the port ("->198.51.100.2:7000"), so only the innermost
// cause (for example "network is unreachable") is kept.
func redactKnockError(where string, err error) error {
	cause := err
	for {
		next := errors.Unwrap(cause)
		if next == nil {
			break
		}
		cause = next
	}
	return redactedError{
		msg: fmt.Sprintf("knocking %s failed: %v (ports not shown: the sequence is a secret)", where, cause),
		err: err,
	}
}
