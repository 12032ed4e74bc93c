// Package sender puts knock packets on the wire: TCP knocks through a plain
// non-blocking connect() (exactly one SYN, never a retransmission), TCP
// knocks with any flags through a raw socket, and UDP datagrams. It resolves
// the host once and pins one address for the whole sequence, paces the
// knocks, and verifies that the guarded port opened, retrying in a way that
// fits knockd's state machine.
package sender

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"runtime"
	"time"

	"github.com/a-knock/knock/internal/seq"
)

// Method selects how TCP knocks are sent.
type Method int

// The TCP knock methods.
const (
	// Auto uses Raw when the flags need it, else Connect.
	Auto Method = iota
	// Connect uses an unprivileged non-blocking connect(): one SYN.
	Connect
	// Raw hand-builds the TCP segment with any flags; needs privilege.
	Raw
)

// String returns the name used on the command line.
func (m Method) String() string {
	switch m {
	case Connect:
		return "connect"
	case Raw:
		return "raw"
	}
	return "auto"
}

// ParseMethod parses "auto", "connect" or "raw".
func ParseMethod(s string) (Method, error) {
	switch s {
	case "auto", "":
		return Auto, nil
	case "connect":
		return Connect, nil
	case "raw":
		return Raw, nil
	}
	return Auto, fmt.Errorf("invalid method %q (want auto, connect or raw)", s)
}

// ErrRawUnavailable is returned when TCP flags other than a plain SYN are
// asked for but raw sockets cannot be opened.
var ErrRawUnavailable = errors.New("raw sockets unavailable")

// Options control how a sequence is sent.
type Options struct {
	Method  Method
	Flags   seq.Flags     // TCPFlags condition of the door; zero means plain SYN
	Delay   time.Duration // pause between the starts of two knocks
	Payload []byte        // UDP payload; nil sends one zero byte as knockd's client does

	// Log, when set, receives one line per packet, for -v.
	Log io.Writer
}

// Sender sends knock sequences to one pinned address.
type Sender struct {
	addr netip.Addr
	opts Options
	raw  rawSocket // opened lazily, reused for the whole sequence
	now  func() time.Time
}

// New returns a Sender for addr. It fails at once, with [ErrRawUnavailable]
// wrapped in a message naming the fix, when the options need raw sockets
// and this process cannot have them.
func New(addr netip.Addr, opts Options) (*Sender, error) {
	s := &Sender{addr: addr.Unmap(), opts: opts, now: time.Now}
	useRaw, err := s.useRaw()
	if err != nil {
		return nil, err
	}
	if useRaw {
		if s.raw, err = openRaw(s.addr); err != nil {
			return nil, rawError(opts.Flags, err)
		}
	}
	return s, nil
}

// Close releases the raw socket, if any.
func (s *Sender) Close() error {
	if s.raw != nil {
		return s.raw.Close()
	}
	return nil
}

// TCPMethod returns the method TCP knocks will actually use.
func (s *Sender) TCPMethod() Method {
	if s.raw != nil {
		return Raw
	}
	return Connect
}

func (s *Sender) useRaw() (bool, error) {
	switch s.opts.Method {
	case Raw:
		return true, nil
	case Connect:
		if s.opts.Flags.NeedsRaw() {
			return false, fmt.Errorf("--tcp-flags %q cannot be sent with --method connect: connect() sends a plain SYN; use --method raw", s.opts.Flags.String())
		}
		return false, nil
	}
	return s.opts.Flags.NeedsRaw(), nil
}

func rawError(f seq.Flags, err error) error {
	what := "--method raw"
	if f.NeedsRaw() {
		what = fmt.Sprintf("--tcp-flags %q", f.String())
	}
	return fmt.Errorf("%s needs raw sockets: %w (%s)", what, ErrRawUnavailable, rawHint(err))
}

// Send plays the sequence once, pacing the knocks Delay apart measured from
// the first knock, so that delays do not accumulate drift.
func (s *Sender) Send(ctx context.Context, sq seq.Sequence) error {
	start := s.now()
	for i, k := range sq {
		if i > 0 && s.opts.Delay > 0 {
			if err := sleepUntil(ctx, start.Add(time.Duration(i)*s.opts.Delay)); err != nil {
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.knock(k); err != nil {
			return fmt.Errorf("knock %d (%s) to %s: %w", i+1, k, s.addr, err)
		}
	}
	return nil
}

func (s *Sender) knock(k seq.Knock) error {
	var err error
	flags := seq.SYN
	switch {
	case k.Proto == seq.UDP:
		err = sendUDP(s.addr, k.Port, s.payload())
	case s.raw != nil:
		flags = s.opts.Flags.Packet()
		err = s.raw.Send(k.Port, flags)
	default:
		err = connectOnce(s.addr, k.Port)
	}
	if s.opts.Log != nil {
		s.logPacket(k, flags, err)
	}
	return err
}

func (s *Sender) payload() []byte {
	if s.opts.Payload == nil {
		return []byte{0}
	}
	return s.opts.Payload
}

func (s *Sender) logPacket(k seq.Knock, flags uint8, err error) {
	ts := s.now().Format("15:04:05.000000")
	dst := netip.AddrPortFrom(s.addr, k.Port)
	what := fmt.Sprintf("udp %d bytes", len(s.payload()))
	if k.Proto == seq.TCP {
		what = fmt.Sprintf("tcp %s (%s)", seq.FlagString(flags), s.TCPMethod())
	}
	if err != nil {
		fmt.Fprintf(s.opts.Log, "knock: %s %s -> %s: %v\n", ts, what, dst, err)
		return
	}
	fmt.Fprintf(s.opts.Log, "knock: %s %s -> %s\n", ts, what, dst)
}

// Describe returns the lines --dry-run prints: one per packet.
func Describe(addr netip.Addr, sq seq.Sequence, opts Options, method Method) []string {
	lines := make([]string, 0, len(sq))
	for i, k := range sq {
		at := time.Duration(i) * opts.Delay
		dst := netip.AddrPortFrom(addr.Unmap(), k.Port)
		if k.Proto == seq.UDP {
			n := len(opts.Payload)
			if opts.Payload == nil {
				n = 1
			}
			lines = append(lines, fmt.Sprintf("+%dms udp %s (%d-byte datagram)", at.Milliseconds(), dst, n))
			continue
		}
		flags := seq.SYN
		if method == Raw {
			flags = opts.Flags.Packet()
		}
		lines = append(lines, fmt.Sprintf("+%dms tcp %s flags=%s via %s", at.Milliseconds(), dst, seq.FlagString(flags), method))
	}
	return lines
}

// spinWindow is how long before a knock's time sleepUntil stops trusting
// the timer and yields in a loop instead: timers fire up to a millisecond
// late on a busy machine, and --delay is kept to well within one.
const spinWindow = time.Millisecond

func sleepUntil(ctx context.Context, t time.Time) error {
	if d := time.Until(t) - spinWindow; d > 0 {
		timer := time.NewTimer(d)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
	}
	// At most spinWindow of yielding; bounded by the clock.
	for time.Now().Before(t) {
		if err := ctx.Err(); err != nil {
			return err
		}
		runtime.Gosched()
	}
	return nil
}
