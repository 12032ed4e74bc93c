package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/a-knock/knock/internal/sender"
	"github.com/a-knock/knock/internal/seq"
)

// knockPlan is everything needed to play one sequence: built from flags
// for `knock HOST PORT...`, or from a profile merged with flags.
type knockPlan struct {
	host       string
	seq        seq.Sequence
	opts       sender.Options
	family     sender.Family
	verify     sender.Verify
	seqTimeout time.Duration
	dryRun     bool
	verbose    bool
	// secret marks a sequence from a profile: errors must not name its
	// knocks (see redactKnockError).
	secret bool

	addr netip.Addr // set by resolve
}

// plan builds a knockPlan from the command line.
func (kf *knockFlags) plan(host string, ports []string) (*knockPlan, error) {
	def := seq.TCP
	if kf.udp {
		def = seq.UDP
	}
	sq, err := seq.Parse(def, ports...)
	if err != nil {
		return nil, asUsage(err)
	}
	p := &knockPlan{host: host, seq: sq}
	if err := kf.apply(p); err != nil {
		return nil, err
	}
	return p, nil
}

// maxPayload is the largest UDP payload in one IPv4 datagram (65535 less
// the IPv4 and UDP headers); IPv6 allows 20 bytes more.
const maxPayload = 65507

// apply sets the plan's options from the flags. Profile callers use it
// after filling the plan from the profile, so only flags the user set
// override the profile.
func (kf *knockFlags) apply(p *knockPlan) error {
	if kf.delay < 0 {
		return usagef("invalid delay %d (want milliseconds >= 0)", kf.delay)
	}
	if kf.delay > 0 || p.opts.Delay == 0 {
		p.opts.Delay = time.Duration(kf.delay) * time.Millisecond
	}
	m, err := sender.ParseMethod(kf.method)
	if err != nil {
		return asUsage(err)
	}
	if kf.method != "auto" || p.opts.Method == sender.Auto {
		p.opts.Method = m
	}
	if kf.tcpFlags != "" {
		if p.opts.Flags, err = seq.ParseFlags(kf.tcpFlags); err != nil {
			return asUsage(err)
		}
	}
	if kf.payload != "" {
		if len(kf.payload) > maxPayload {
			return usagef("--payload is %d bytes; a UDP knock carries at most %d", len(kf.payload), maxPayload)
		}
		p.opts.Payload = []byte(kf.payload)
	}
	switch {
	case kf.ipv4 && kf.ipv6:
		return usagef("-4 and -6 exclude each other")
	case kf.ipv4:
		p.family = sender.IPv4
	case kf.ipv6:
		p.family = sender.IPv6
	}
	if err := kf.applyVerify(&p.verify); err != nil {
		return err
	}
	if kf.seqTimeout < 0 {
		return usagef("invalid seq-timeout %g (want seconds >= 0)", kf.seqTimeout)
	}
	if kf.seqTimeout > 0 {
		p.seqTimeout = seconds(kf.seqTimeout)
	}
	p.dryRun = kf.dryRun
	p.verbose = kf.verbose
	return nil
}

// applyVerify sets the verification options from --wait, --timeout and
// --retries; a wait port already in v stays unless --wait is given.
func (kf *knockFlags) applyVerify(v *sender.Verify) error {
	if kf.wait != 0 {
		v.Port = kf.wait
	}
	if kf.timeout <= 0 {
		return usagef("invalid timeout %g (want seconds > 0)", kf.timeout)
	}
	if kf.retries < 0 || kf.retries > 100 {
		return usagef("invalid retries %d (want 0..100)", kf.retries)
	}
	v.Timeout = seconds(kf.timeout)
	v.Retries = kf.retries
	return nil
}

// resolve looks the host up once and pins the address.
func (p *knockPlan) resolve(ctx context.Context) error {
	if p.addr.IsValid() {
		return nil
	}
	a, err := resolveHost(ctx, p.host, p.family)
	if err != nil {
		return asUsage(err)
	}
	p.addr = a
	return nil
}

// resolveHost looks host up once, within 10 seconds.
func resolveHost(ctx context.Context, host string, fam sender.Family) (netip.Addr, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return sender.Resolve(ctx, host, fam)
}

// duration is how long the sequence takes from first to last knock.
func (p *knockPlan) duration() time.Duration {
	return time.Duration(len(p.seq)-1) * p.opts.Delay
}

// execute resolves, then prints (--dry-run) or sends the sequence and
// verifies it when a wait port is set.
func (p *knockPlan) execute(ctx context.Context, stdout, stderr io.Writer) error {
	_, err := p.run(ctx, stdout, stderr)
	return err
}

// run is execute returning the sender's result, for callers that report it.
func (p *knockPlan) run(ctx context.Context, stdout, stderr io.Writer) (sender.Result, error) {
	var res sender.Result
	if err := p.resolve(ctx); err != nil {
		return res, err
	}
	if p.seqTimeout > 0 && p.duration() >= p.seqTimeout {
		fmt.Fprintf(stderr, "knock: warning: %d knocks %s apart take %s, not inside seq_timeout %s; knockd will drop the attempt\n",
			len(p.seq), p.opts.Delay, p.duration(), p.seqTimeout)
	}
	if p.dryRun {
		method := sender.Connect
		if p.opts.Method == sender.Raw || (p.opts.Method == sender.Auto && p.opts.Flags.NeedsRaw()) {
			method = sender.Raw
		}
		fmt.Fprintf(stdout, "would knock %s (%s) with %d packet(s):\n", p.addr, p.host, len(p.seq))
		for _, l := range sender.Describe(p.addr, p.seq, p.opts, method) {
			fmt.Fprintln(stdout, "  "+l)
		}
		if p.verify.Port != 0 {
			fmt.Fprintf(stdout, "then wait up to %s for tcp port %d, replaying up to %d time(s)\n", p.verify.Timeout, p.verify.Port, p.verify.Retries)
		}
		return res, nil
	}
	if p.verbose {
		p.opts.Log = stderr
	}
	s, err := sender.New(p.addr, p.opts)
	if err != nil {
		return res, asUsage(err)
	}
	defer s.Close()
	res, err = s.Knock(ctx, p.seq, p.verify)
	if err != nil {
		if errors.Is(err, sender.ErrNotOpened) {
			return res, fmt.Errorf("knocked %s (%s) but %w", p.host, p.addr, err)
		}
		if p.secret {
			return res, redactKnockError(p.host, p.addr, err)
		}
		return res, err
	}
	if p.verbose && res.Verified {
		fmt.Fprintf(stderr, "knock: port %d on %s open after %s (%d round(s))\n", p.verify.Port, p.addr, res.Elapsed.Round(time.Millisecond), res.Rounds)
	}
	return res, nil
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
func redactKnockError(host string, addr netip.Addr, err error) error {
	cause := err
	for {
		next := errors.Unwrap(cause)
		if next == nil {
			break
		}
		cause = next
	}
	return redactedError{
		msg: fmt.Sprintf("knocking %s (%s) failed: %v (ports not shown: the sequence is a secret)", host, addr, cause),
		err: err,
	}
}
