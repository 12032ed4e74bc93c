// Package demo is knock demo: a knock server (knock serve, listen mode)
// and a small guarded service on 127.0.0.1, with the real client code
// knocking it. It shows the guarded port refusing, the knock, the port
// open, the close sequence and the port shut, and needs no root, no
// configuration and no network.
package demo

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/a-knock/knock/internal/knockdconf"
	"github.com/a-knock/knock/internal/sender"
	"github.com/a-knock/knock/internal/seq"
	"github.com/a-knock/knock/internal/server"
)

// demoStyle prints the demo's steps, in colour on a terminal unless
// NO_COLOR is set.
type demoStyle struct {
	w     io.Writer
	color bool
}

func (s demoStyle) paint(code, text string) string {
	if !s.color {
		return text
	}
	return "\x1b[" + code + "m" + text + "\x1b[0m"
}

func (s demoStyle) step(n int, what, format string, args ...any) {
	fmt.Fprintf(s.w, "%s %s %s\n", s.paint("1", fmt.Sprintf("[%d/5]", n)), s.paint("36", fmt.Sprintf("%-8s", what)), fmt.Sprintf(format, args...))
}

func (s demoStyle) detail(format string, args ...any) {
	fmt.Fprintf(s.w, "              %s\n", fmt.Sprintf(format, args...))
}

func (s demoStyle) ok(text string) string  { return s.paint("32", "✓ "+text) }
func (s demoStyle) bad(text string) string { return s.paint("31", "✗ "+text) }

// demoGreeting is what the guarded service says.
const demoGreeting = "hello from the guarded service"

// Run starts the server and the service, runs the five steps and prints
// them on w, in colour when color is set. It returns an error naming the
// step that failed.
func Run(ctx context.Context, w io.Writer, color bool) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	st := demoStyle{w: w, color: color}
	lo := netip.MustParseAddr("127.0.0.1")
	began := time.Now()

	// The guarded service: greets and hangs up.
	svc, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo: start the guarded service: %w", err)
	}
	defer svc.Close()
	go func() {
		for {
			c, err := svc.Accept()
			if err != nil {
				return
			}
			fmt.Fprintln(c, demoGreeting)
			c.Close()
		}
	}()
	gatePort, err := freePort()
	if err != nil {
		return fmt.Errorf("demo: pick a port for the gate: %w", err)
	}
	gateAddr := netip.AddrPortFrom(lo, gatePort)

	// Knock sockets on free ports, held from here on so that nobody can
	// take them: tcp, udp, tcp.
	var lns []net.Listener
	var pcs []net.PacketConn
	defer func() {
		for _, l := range lns {
			l.Close()
		}
		for _, p := range pcs {
			p.Close()
		}
	}()
	open := make(seq.Sequence, 0, 3)
	for _, proto := range []seq.Proto{seq.TCP, seq.UDP, seq.TCP} {
		var port uint16
		if proto == seq.TCP {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return fmt.Errorf("demo: open a knock port: %w", err)
			}
			lns = append(lns, l)
			port = uint16(l.Addr().(*net.TCPAddr).Port)
		} else {
			p, err := server.ListenUDP("127.0.0.1:0")
			if err != nil {
				return fmt.Errorf("demo: open a knock port: %w", err)
			}
			pcs = append(pcs, p)
			port = uint16(p.LocalAddr().(*net.UDPAddr).Port)
		}
		open = append(open, seq.Knock{Port: port, Proto: proto})
	}
	closeSeq := open.Reverse()
	conf := &knockdconf.Config{File: "demo", Doors: []*knockdconf.Door{
		{Name: "open", Sequence: open, SeqTimeout: 5 * time.Second, CmdTimeout: 60 * time.Second, Gate: knockdconf.GateOpen, Lines: map[string]int{}},
		{Name: "close", Sequence: closeSeq, SeqTimeout: 5 * time.Second, CmdTimeout: 60 * time.Second, Gate: knockdconf.GateClose, Lines: map[string]int{}},
	}}
	events := make(chan server.Event, 64)
	srv, err := server.New(conf, server.Options{
		Mode:        server.Listen,
		Gates:       []server.GateSpec{{Listen: gateAddr.String(), Backend: svc.Addr().String()}},
		Listeners:   lns,
		PacketConns: pcs,
		Events: func(e server.Event) {
			select {
			case events <- e:
			default:
			}
		},
	})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	lns, pcs = nil, nil // the server owns them now
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(sctx) }()
	defer func() {
		stop()
		<-done
	}()
	if _, err := waitEvent(ctx, events, server.EventReady); err != nil {
		return fmt.Errorf("demo: server did not start: %w", err)
	}

	fmt.Fprintln(w, st.paint("1", "knock demo: a knock server and a guarded service on loopback (no root, no config, no network)"))
	st.step(1, "serve", "knock serve (listen mode) on 127.0.0.1")
	st.detail("door \"open\"  sequence %s  gate = open", open)
	st.detail("door \"close\" sequence %s  gate = close", closeSeq)
	st.detail("gate %s guards the service at %s", gateAddr, svc.Addr())

	st.step(2, "probe", "connect to %s before knocking", gateAddr)
	if msg, err := demoProbe(ctx, gateAddr); err == nil {
		st.detail("%s", st.bad("port is open: "+msg))
		return errors.New("demo: the guarded port accepted a connection before any knock")
	} else {
		st.detail("%s", st.ok("refused: "+err.Error()))
	}

	st.step(3, "knock", "play the open sequence with knock's sender (one SYN or datagram per knock)")
	if err := demoKnock(ctx, st, lo, open); err != nil {
		return err
	}
	if e, err := waitEvent(ctx, events, server.EventAdmit); err != nil {
		return fmt.Errorf("demo: the server did not open the gate: %w", err)
	} else {
		st.detail("%s", st.ok("server: "+e.Text))
	}

	st.step(4, "connect", "connect to %s after knocking", gateAddr)
	msg, err := demoProbe(ctx, gateAddr)
	if err != nil {
		st.detail("%s", st.bad(err.Error()))
		return fmt.Errorf("demo: the guarded port did not open: %w", err)
	}
	st.detail("%s", st.ok(fmt.Sprintf("open, the service says %q", msg)))

	st.step(5, "close", "play the close sequence, then connect again")
	if err := demoKnock(ctx, st, lo, closeSeq); err != nil {
		return err
	}
	if e, err := waitEvent(ctx, events, server.EventRevoke); err != nil {
		return fmt.Errorf("demo: the server did not close the gate: %w", err)
	} else {
		st.detail("%s", st.ok("server: "+e.Text))
	}
	if msg, err := demoProbe(ctx, gateAddr); err == nil {
		st.detail("%s", st.bad("still open: "+msg))
		return errors.New("demo: the guarded port stayed open after the close sequence")
	} else {
		st.detail("%s", st.ok("refused: "+err.Error()))
	}
	fmt.Fprintf(w, "%s in %s. Next: knock serve -c knockd.conf --gate :2222=127.0.0.1:22, then knock HOST PORTS --wait 2222\n",
		st.paint("32;1", "all steps passed"), time.Since(began).Round(10*time.Millisecond))
	return nil
}

func demoKnock(ctx context.Context, st demoStyle, addr netip.Addr, sq seq.Sequence) error {
	s, err := sender.New(addr, sender.Options{Method: sender.Connect, Delay: 20 * time.Millisecond})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer s.Close()
	parts := make([]string, len(sq))
	for i, k := range sq {
		parts[i] = fmt.Sprintf("%d/%s", k.Port, k.Proto)
	}
	st.detail("-> %s", strings.Join(parts, "  "))
	if err := s.Send(ctx, sq); err != nil {
		return fmt.Errorf("demo: knock: %w", err)
	}
	return nil
}

// demoProbe connects to addr and returns the first line the service
// sends; a gate that lets the connection in and resets it counts as
// refused.
func demoProbe(ctx context.Context, addr netip.AddrPort) (string, error) {
	d := net.Dialer{Timeout: 2 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr.String())
	if err != nil {
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Err != nil {
			err = oe.Err
		}
		return "", errors.New(strings.TrimPrefix(err.Error(), "connect: "))
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("connection closed without a greeting: %v", err)
	}
	return strings.TrimSpace(line), nil
}

func waitEvent(ctx context.Context, events <-chan server.Event, kind server.EventKind) (server.Event, error) {
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case e := <-events:
			if e.Kind == kind {
				return e, nil
			}
			if e.Kind == server.EventError {
				return e, errors.New(e.Text)
			}
		case <-t.C:
			return server.Event{}, errors.New("timed out after 5s")
		case <-ctx.Done():
			return server.Event{}, ctx.Err()
		}
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (uint16, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port), nil
}
