package door

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/a-knock/knock/internal/exit"
	"github.com/a-knock/knock/internal/sender"
	"github.com/a-knock/knock/internal/spa"
)

// spaOpener sends fwknop SPA packets: a fresh one each round, never a
// replay (fwknopd refuses those). SPA has no close action: fwknopd
// removes its rule after the access timeout.
type spaOpener struct {
	d *Door
	c *spa.Client
}

func newSPAOpener(d *Door) (*spaOpener, error) {
	t := d.T
	if t.Profile.SPA == nil {
		return nil, fmt.Errorf("profile %q: kind spa without spa settings", t.Name)
	}
	o, err := t.Profile.SPA.Options()
	if err != nil {
		return nil, exit.Usage(fmt.Errorf("profile %q: %w", t.Name, err))
	}
	return spaDoor(d, o, "profile "+fmt.Sprintf("%q", t.Name))
}

// AdhocSPA is a target without a profile for one SPA request: knock spa
// send HOST. fwknopd 2.6 sniffs IPv4 only, so the host is resolved to an
// IPv4 address.
func AdhocSPA(ctx context.Context, host string, o spa.Options, opts Options) (*Door, error) {
	if opts.Family == sender.IPv6 {
		return nil, exit.Usagef("-6: fwknopd 2.6 reads SPA packets over IPv4 only")
	}
	t := &Target{Name: host, Host: host, SSHPort: 22, Family: sender.IPv4, waitFlag: opts.WaitPort, port: opts.Port}
	a, err := resolve(ctx, host, sender.IPv4)
	if err != nil {
		return nil, exit.Usage(fmt.Errorf("%w (fwknopd 2.6 reads SPA packets over IPv4 only)", err))
	}
	t.Addr = a
	d := &Door{T: t, opts: opts}
	op, err := spaDoor(d, o, "")
	if err != nil {
		return nil, err
	}
	d.op = op
	return d, nil
}

func spaDoor(d *Door, o spa.Options, what string) (*spaOpener, error) {
	t, opts := d.T, d.opts
	if bad := sequenceOnly(opts.Overrides); len(bad) > 0 {
		return nil, exit.Usagef("%s: only for knock sequences, not for an SPA profile", strings.Join(bad, ", "))
	}
	if opts.Family == sender.IPv6 {
		return nil, exit.Usagef("-6: fwknopd 2.6 reads SPA packets over IPv4 only")
	}
	c, err := spa.NewClient(o)
	if err != nil {
		if what != "" {
			err = exit.Usage(fmt.Errorf("%s: %w", what, exit.StripUsage(err)))
		}
		return nil, err
	}
	if !t.Addr.Is4() {
		return nil, exit.Usagef("%s: %s is %s, but fwknopd 2.6 reads SPA packets over IPv4 only; use -4, or knock profile edit %s --family inet", what, t.Host, t.Addr, t.Name)
	}
	return &spaOpener{d: d, c: c}, nil
}

// sequenceOnly names the overrides that make no sense for SPA.
func sequenceOnly(o Overrides) []string {
	var bad []string
	if o.UDP {
		bad = append(bad, "--udp")
	}
	if o.Delay != 0 {
		bad = append(bad, "--delay")
	}
	if o.Method != sender.Auto {
		bad = append(bad, "--method")
	}
	if !o.Flags.IsZero() {
		bad = append(bad, "--tcp-flags")
	}
	if o.Payload != nil {
		bad = append(bad, "--payload")
	}
	if o.SeqTimeout != 0 {
		bad = append(bad, "--seq-timeout")
	}
	return bad
}

func (o *spaOpener) closable() bool { return false }

func (o *spaOpener) close(context.Context) error {
	fmt.Fprintf(o.d.opts.log(), "knock: warning: %s is an SPA profile: fwknopd closes the port after its access timeout; nothing sent\n", o.d.T.Name)
	return nil
}

// waitPort is the port that proves the door open: the target's (see
// [Target.WaitPort]), but with a random NAT port the one drawn, and for
// a server command none, unless --wait names one.
func (o *spaOpener) waitPort() uint16 {
	t := o.d.T
	switch {
	case t.waitFlag != 0:
		return t.waitFlag
	case o.c.RandomNAT():
		return o.c.WaitPort()
	case o.c.Request().Command != "":
		return 0
	}
	return t.WaitPort()
}

func (o *spaOpener) open(ctx context.Context) (Result, error) {
	t, opts := o.d.T, o.d.opts
	port := o.waitPort()
	o.c.ServerName = t.Host
	if opts.DryRun {
		p, err := o.c.Packet(t.Addr)
		if err != nil {
			return Result{}, exit.Usage(err)
		}
		fmt.Fprintf(opts.out(), "would send an SPA packet (%d characters) to %s over %s asking for %s\n", len(p.Wire), o.where(), o.c.Route(), o.c.Describe())
		if port != 0 {
			fmt.Fprintf(opts.out(), "then wait up to %s for tcp port %d, resending up to %d fresh packet(s)\n", timeout(opts), port, opts.Retries)
		}
		return Result{Port: port}, nil
	}
	if !o.c.HasHMAC() {
		fmt.Fprintf(opts.log(), "knock: warning: sending to %s without an HMAC key: fwknopd 2.6 accepts this only for a stanza without HMAC_KEY_BASE64\n", t.where())
	}
	if o.c.RandomNAT() {
		fmt.Fprintf(opts.log(), "knock: NAT access through random port %d of %s\n", o.c.WaitPort(), t.where())
	}
	if port == 0 {
		start := time.Now()
		err := o.send(ctx)
		res := Result{Rounds: 1, Elapsed: time.Since(start)}
		if err == nil && t.Profile != nil && o.c.Request().Command == "" {
			fmt.Fprintf(opts.log(), "knock: hint: sent an SPA packet to %s without verifying; to check that the port opened, give --wait PORT or save one: knock profile edit %s --wait-port PORT\n", t.Name, t.Name)
		}
		return res, err
	}
	v := verify{addr: t.Addr, port: port, timeout: timeout(opts), retries: opts.Retries, timing: spaTiming}
	if opts.Verbose {
		v.log = opts.log()
	}
	res, err := retry(ctx, v, func(ctx context.Context, _ int) error { return o.send(ctx) })
	if errors.Is(err, sender.ErrNotOpened) {
		sees := fmt.Sprintf("%s/%d", o.c.Proto(), o.c.Port())
		if o.c.Port() == 0 {
			sees = fmt.Sprintf("%s to any port", o.c.Proto())
		}
		err = fmt.Errorf("sent %d SPA packet(s) to %s, but %w (check the keys, the clocks, and that fwknopd sees %s)", res.Rounds, t.where(), err, sees)
	}
	return res, err
}

// send sends one fresh packet.
func (o *spaOpener) send(ctx context.Context) error {
	s, err := o.c.Send(ctx, o.d.T.Addr)
	if o.d.opts.Verbose {
		ts := time.Now().Format("15:04:05.000000")
		if err != nil {
			fmt.Fprintf(o.d.opts.log(), "knock: %s spa %s %d characters -> %s: %v\n", ts, o.c.Proto(), s.Len, s.Dst, err)
		} else {
			fmt.Fprintf(o.d.opts.log(), "knock: %s spa %s %d characters -> %s (%s)\n", ts, o.c.Route(), s.Len, s.Dst, o.c.Describe())
		}
	}
	return err
}

// where names the destination: address and port (or "random port"), and
// the host as named when it differs.
func (o *spaOpener) where() string {
	t := o.d.T
	dst := netip.AddrPortFrom(t.Addr, o.c.Port()).String()
	if o.c.Port() == 0 {
		dst = t.Addr.String() + " (a random port)"
	}
	if t.Host == t.Addr.String() {
		return dst
	}
	return dst + " (" + t.Host + ")"
}
