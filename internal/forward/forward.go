// Package forward is knock forward: local TCP listeners whose connections
// go through a door, in ssh -L syntax ([BIND:]LOCALPORT:REMOTEPORT). The
// first connection opens the door (one knock, shared by every connection
// that arrives meanwhile); each connection is relayed to the knocked
// address at REMOTEPORT with the relay of knock proxy (spliced on Linux,
// half-close both ways); a door the server closed by itself is knocked
// again; once the last connection has ended and a grace period (linger)
// has passed, the door is closed.
package forward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/a-knock/knock/internal/door"
	"github.com/a-knock/knock/internal/exit"
	"github.com/a-knock/knock/internal/relay"
)

// Spec is one forward: connections to Bind:Local go to Remote on the
// knocked address.
type Spec struct {
	Bind   netip.Addr
	Local  uint16
	Remote uint16
}

// DefaultBind is where a spec without BIND listens: loopback only.
var DefaultBind = netip.MustParseAddr("127.0.0.1")

// String formats s as BIND:LOCAL:REMOTE, with an IPv6 BIND in brackets.
func (s Spec) String() string {
	return netip.AddrPortFrom(s.Bind, s.Local).String() + ":" + strconv.Itoa(int(s.Remote))
}

// ParseSpec reads [BIND:]LOCALPORT:REMOTEPORT, ssh -L's syntax with the
// host part fixed to the knocked address. BIND is an IP address (IPv6 in
// brackets), "localhost", or "*" (every address); it defaults to
// 127.0.0.1. Whether a BIND that is not loopback is allowed is [Spec.Check]'s
// business.
func ParseSpec(s string) (Spec, error) {
	bad := func(why string) (Spec, error) {
		return Spec{}, fmt.Errorf("invalid forward %q: %s (want [BIND:]LOCALPORT:REMOTEPORT, such as 15432:5432)", s, why)
	}
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return bad("no REMOTEPORT")
	}
	remote, err := port(s[i+1:])
	if err != nil {
		return bad("REMOTEPORT " + err.Error())
	}
	rest := s[:i]
	sp := Spec{Bind: DefaultBind, Remote: remote}
	local := rest
	if j := strings.LastIndexByte(rest, ':'); j >= 0 {
		bind := rest[:j]
		local = rest[j+1:]
		switch {
		case bind == "localhost":
			sp.Bind = DefaultBind
		case bind == "*" || bind == "":
			sp.Bind = netip.IPv6Unspecified()
		default:
			a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(bind, "["), "]"))
			if err != nil || a.Zone() != "" {
				return bad(fmt.Sprintf("BIND %q is not an IP address", bind))
			}
			sp.Bind = a.Unmap()
		}
	}
	if sp.Local, err = port(local); err != nil {
		return bad("LOCALPORT " + err.Error())
	}
	return sp, nil
}

func port(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q is not a port (1..65535)", s)
	}
	return uint16(n), nil
}

// ParseSpecs reads specs with [ParseSpec] and checks them with
// [Spec.Check]; every problem is bad input.
func ParseSpecs(args []string, allowRemote bool) ([]Spec, error) {
	var specs []Spec
	for _, a := range args {
		s, err := ParseSpec(a)
		if err == nil {
			err = s.Check(allowRemote)
		}
		if err != nil {
			return nil, exit.Usage(err)
		}
		specs = append(specs, s)
	}
	return specs, nil
}

// Check refuses a spec that listens beyond this machine unless
// allowRemote: a forward on every interface lets anyone who can reach
// this machine through the door.
func (s Spec) Check(allowRemote bool) error {
	if !allowRemote && !s.Bind.IsLoopback() {
		return fmt.Errorf("forward %s listens on %s, which is not a loopback address: anyone who reaches it gets through the door (give --allow-remote to mean it)", s, s.Bind)
	}
	return nil
}

// Options control a [Forwarder].
type Options struct {
	// Linger is how long the door stays open after the last connection
	// ended; then it is closed. Zero closes at once.
	Linger time.Duration
	// DialTimeout bounds a connection to the remote port; when it runs
	// out on an open door, the server has closed it and it is knocked
	// again. Zero means [DefaultDialTimeout].
	DialTimeout time.Duration
	// Status receives the forwards' status lines; Live redraws them in
	// place (a terminal) instead of printing a line per event.
	Status io.Writer
	Live   bool
}

// Defaults of the options.
const (
	DefaultLinger      = 5 * time.Second
	DefaultDialTimeout = 5 * time.Second
)

// counters are one forward's figures.
type counters struct {
	conns, active int
	up, down      int64
	lastErr       string
}

// Forwarder runs forwards through one door.
type Forwarder struct {
	d     *door.Door
	specs []Spec
	lns   []net.Listener
	opts  Options

	mu      sync.Mutex
	stats   []counters
	active  int      // connections of every forward
	knocks  int      // opens that knocked
	opening *opening // the open under way, shared
	linger  *time.Timer
	drawn   int // status lines drawn (Live)
	closed  bool
	wg      sync.WaitGroup
}

type opening struct {
	done chan struct{}
	err  error
}

// Listen binds every spec's listener, so that a busy port or a bad
// address is one error before any knock; every such error is bad input.
func Listen(d *door.Door, specs []Spec, opts Options) (*Forwarder, error) {
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = DefaultDialTimeout
	}
	f := &Forwarder{d: d, specs: specs, opts: opts, stats: make([]counters, len(specs))}
	for _, s := range specs {
		ln, err := net.Listen("tcp", netip.AddrPortFrom(s.Bind, s.Local).String())
		if err != nil {
			f.closeListeners()
			return nil, exit.Usage(fmt.Errorf("forward %s: cannot listen: %w", s, err))
		}
		f.lns = append(f.lns, ln)
	}
	return f, nil
}

func (f *Forwarder) closeListeners() {
	for _, ln := range f.lns {
		ln.Close()
	}
}

// Serve accepts connections until ctx ends, then stops accepting, ends
// the connections, and closes the door if it is open. It returns nil
// when ctx ended it.
func (f *Forwarder) Serve(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f.draw(-1)
	errc := make(chan error, len(f.lns))
	for i, ln := range f.lns {
		go func() { errc <- f.accept(ctx, i, ln) }()
	}
	var tick <-chan time.Time
	if f.opts.Live {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		tick = t.C
	}
	var err error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err = <-errc:
			break loop
		case <-tick:
			f.draw(-1)
		}
	}
	cancel()
	f.closeListeners()
	f.wg.Wait()
	f.mu.Lock()
	f.closed = true
	if f.linger != nil {
		f.linger.Stop()
	}
	f.mu.Unlock()
	if f.d.Opened() {
		f.d.CloseAfter()
	}
	f.draw(-1)
	return err
}

func (f *Forwarder) accept(ctx context.Context, i int, ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("forward %s: %w", f.specs[i], err)
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.serve(ctx, i, c.(*net.TCPConn))
		}()
	}
}

// serve relays one local connection through the door.
func (f *Forwarder) serve(ctx context.Context, i int, local *net.TCPConn) {
	defer local.Close()
	f.begin(i)
	var up, down int64
	var err error
	defer func() { f.end(i, up, down, err) }()
	remote, err := f.dial(ctx, f.specs[i].Remote)
	if err != nil {
		return
	}
	var st relay.Stats
	st, err = relay.Relay(ctx, local, local, remote)
	up, down = st.Up, st.Down
}

// dial opens the door if needed and connects to port on the knocked
// address. A connection that times out on a door believed open means the
// server closed it: it is knocked again, once.
func (f *Forwarder) dial(ctx context.Context, port uint16) (*net.TCPConn, error) {
	dst := netip.AddrPortFrom(f.d.T.Addr, port)
	for attempt := 0; attempt < 2; attempt++ {
		if err := f.open(ctx); err != nil {
			return nil, err
		}
		dctx, cancel := context.WithTimeout(ctx, f.opts.DialTimeout)
		var dl net.Dialer
		c, err := dl.DialContext(dctx, "tcp", dst.String())
		cancel()
		if err == nil {
			return c.(*net.TCPConn), nil
		}
		// Only a connection that no one answered says the door is shut
		// (its SYN dropped); a refusal comes from the service itself.
		if ctx.Err() != nil || attempt > 0 || !errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("connect to %s: %w", dst, err)
		}
		f.d.Expire()
	}
	return nil, errors.New("unreachable")
}

// open knocks unless the door is open, once for all the connections that
// need it at the same time: they share the outcome.
func (f *Forwarder) open(ctx context.Context) error {
	f.mu.Lock()
	if o := f.opening; o != nil {
		f.mu.Unlock()
		select {
		case <-o.done:
			return o.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if f.d.Opened() {
		f.mu.Unlock()
		return nil
	}
	o := &opening{done: make(chan struct{})}
	f.opening = o
	f.knocks++
	f.mu.Unlock()
	_, o.err = f.d.Open(ctx)
	f.mu.Lock()
	f.opening = nil
	f.mu.Unlock()
	close(o.done)
	f.draw(-1)
	return o.err
}

func (f *Forwarder) begin(i int) {
	f.mu.Lock()
	f.stats[i].conns++
	f.stats[i].active++
	f.active++
	if f.linger != nil {
		f.linger.Stop()
		f.linger = nil
	}
	f.mu.Unlock()
	f.draw(i)
}

func (f *Forwarder) end(i int, up, down int64, err error) {
	f.mu.Lock()
	s := &f.stats[i]
	s.active--
	s.up += up
	s.down += down
	if err != nil && !errors.Is(err, context.Canceled) {
		s.lastErr = oneLine(err.Error())
	}
	f.active--
	if f.active == 0 && !f.closed {
		f.linger = time.AfterFunc(f.opts.Linger, f.lingered)
	}
	f.mu.Unlock()
	f.draw(i)
}

// lingered closes the door when no connection came back during the
// linger.
func (f *Forwarder) lingered() {
	f.mu.Lock()
	idle := f.active == 0 && !f.closed && f.opening == nil
	f.mu.Unlock()
	if idle && f.d.Opened() {
		f.d.CloseAfter()
		f.draw(-1)
	}
}

// Lines returns one status line per forward: where it listens, the
// door's state, knocks, connections and bytes.
func (f *Forwarder) Lines() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lines()
}

func (f *Forwarder) lines() []string {
	state := "closed"
	switch {
	case f.opening != nil:
		state = "knocking"
	case f.d.Opened():
		state = "open"
	}
	out := make([]string, len(f.specs))
	for i, s := range f.specs {
		c := f.stats[i]
		out[i] = fmt.Sprintf("knock forward %s -> %s:%d  door %s, %d knock(s)  %d conn(s), %d active  up %s down %s",
			netip.AddrPortFrom(s.Bind, s.Local), f.d.T.Name, s.Remote, state, f.knocks, c.conns, c.active, size(c.up), size(c.down))
		if c.lastErr != "" {
			out[i] += "  last error: " + c.lastErr
		}
	}
	return out
}

// draw writes the status lines: all of them in place when Live; else the
// line of forward only (-1: every line, for a change of the door).
func (f *Forwarder) draw(only int) {
	if f.opts.Status == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	if f.opts.Live && f.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", f.drawn)
	}
	for i, line := range f.lines() {
		if !f.opts.Live && only >= 0 && i != only {
			continue
		}
		if f.opts.Live {
			b.WriteString("\x1b[2K")
		}
		b.WriteString(line + "\n")
	}
	f.drawn = len(f.specs)
	io.WriteString(f.opts.Status, b.String())
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }
