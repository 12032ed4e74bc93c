package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/a-knock/knock/internal/knockdconf"
	"github.com/a-knock/knock/internal/seq"
)

// Mode selects how the server sees knocks.
type Mode int

// The modes.
const (
	// Auto sniffs when the platform and privileges allow, else listens.
	Auto Mode = iota
	// Sniff reads packets from an interface (Linux, root or CAP_NET_RAW).
	Sniff
	// Listen binds the knock ports (any OS, unprivileged).
	Listen
)

// ErrSniffUnsupported is returned for sniff mode on a platform without
// packet sockets or without the privilege to open them.
var ErrSniffUnsupported = errors.New("sniff mode unavailable")

// Options configure a Server beyond its knockd.conf.
type Options struct {
	Mode        Mode
	Interface   string        // sniff mode: overrides [options] Interface
	Bind        []netip.Addr  // listen mode: addresses to bind; none: all
	Gates       []GateSpec    // built-in gates, opened by doors with "gate ="
	MaxAttempts int           // attempts tracked at once; 0: DefaultMaxAttempts
	ExecTimeout time.Duration // limit for one command; 0: DefaultExecTimeout

	// Log receives one line per event, in the spirit of knockd -v.
	Log io.Writer
	// Events, when set, is called for every event (from several
	// goroutines, never concurrently for knock steps).
	Events func(Event)

	// Listeners and PacketConns are knock sockets opened by the caller
	// (listen mode): they serve the ports they are bound to instead of
	// new ones. The server closes them.
	Listeners   []net.Listener
	PacketConns []net.PacketConn
}

// EventKind says what happened.
type EventKind int

// The event kinds.
const (
	EventReady    EventKind = iota // the server sees knocks
	EventStage                     // a knock matched (Stage of Of)
	EventOpen                      // a sequence completed: the door opens
	EventCommand                   // a command ran (Err set if it failed)
	EventAdmit                     // the gate admits Src
	EventRevoke                    // the gate shuts Src out
	EventSequence                  // a one-time sequence was used up
	EventDisabled                  // a door ran out of one-time sequences
	EventError                     // a runtime problem
)

// Event is one thing the server did, for logs, tests and the demo.
type Event struct {
	Time  time.Time
	Kind  EventKind
	Src   netip.Addr
	Door  string
	Stage int
	Of    int
	Text  string
	Err   error
}

// Server is a running reference server.
type Server struct {
	conf  *knockdconf.Config
	opts  Options
	mode  Mode
	doors []*door
	conf2 map[*door]*doorConf
	gates []*Gate
	det   *Detector

	mu      sync.Mutex // serializes the detector and door changes
	logMu   sync.Mutex
	src     source
	stopNow chan struct{}
	pending sync.WaitGroup
}

// doorConf is what a door does when it opens.
type doorConf struct {
	c             *knockdconf.Door
	start, start6 *command
	stop, stop6   *command
	ots           *otsFile
}

// source delivers packets to the server.
type source interface {
	// ports tells the source which knocks the doors use now.
	ports(ks []seq.Knock) error
	close()
	describe() string
}

// New checks conf and opts and prepares a server; it opens no socket.
// Problems in conf are reported as [knockdconf.Error]s naming the file,
// line and key.
func New(conf *knockdconf.Config, opts Options) (*Server, error) {
	s := &Server{conf: conf, opts: opts, conf2: map[*door]*doorConf{}, stopNow: make(chan struct{})}
	if s.opts.ExecTimeout <= 0 {
		s.opts.ExecTimeout = DefaultExecTimeout
	}
	s.mode = opts.Mode
	if s.mode == Auto {
		s.mode = Listen
		if len(opts.Listeners) == 0 && len(opts.PacketConns) == 0 && sniffAvailable() {
			s.mode = Sniff
		}
	}
	if len(conf.Doors) == 0 {
		return nil, &knockdconf.Error{File: conf.File, Err: errors.New("no door: add a [section] with a sequence")}
	}
	var errs knockdconf.Errors
	bad := func(d *knockdconf.Door, key string, format string, args ...any) {
		line := d.Lines[key]
		if line == 0 {
			line = d.Line
		}
		errs = append(errs, &knockdconf.Error{File: conf.File, Line: line, Key: key, Err: fmt.Errorf(format, args...)})
	}
	hasGate := false
	for i, c := range conf.Doors {
		d := &door{name: c.Name, seq: c.Sequence, flags: c.TCPFlags, timeout: int64(c.SeqTimeout / time.Second), index: i}
		dc := &doorConf{c: c}
		for _, x := range []struct {
			key string
			val string
			dst **command
		}{
			{"start_command", c.StartCommand, &dc.start},
			{"start_command_6", c.StartCommand6, &dc.start6},
			{"stop_command", c.StopCommand, &dc.stop},
			{"stop_command_6", c.StopCommand6, &dc.stop6},
		} {
			cmd, err := parseCommand(x.val)
			if err != nil {
				bad(c, x.key, "%v", err)
			}
			*x.dst = cmd
		}
		if c.Target != "" {
			t, err := netip.ParseAddr(c.Target)
			switch {
			case err != nil:
				bad(c, "target", "invalid address %q", c.Target)
			case s.mode == Listen:
				bad(c, "target", "target needs sniff mode (listen mode cannot tell which address a datagram was sent to)")
			}
			d.target = t.Unmap()
		}
		if c.OneTimeSequences != "" {
			dc.ots = &otsFile{path: c.OneTimeSequences}
			sq, err := dc.ots.next()
			switch {
			case errors.Is(err, errExhausted):
				bad(c, "one_time_sequences", "%s: no valid sequence in the file", c.OneTimeSequences)
			case err != nil:
				bad(c, "one_time_sequences", "%v", err)
			}
			d.seq = sq
		}
		if s.mode == Listen && !c.TCPFlags.Match(seq.SYN) {
			bad(c, "tcpflags", "listen mode sees TCP knocks only as connections (a SYN), which %q never matches; use sniff mode (Linux, root)", c.TCPFlags.String())
		}
		if c.Gate != "" {
			hasGate = true
			if len(opts.Gates) == 0 {
				bad(c, "gate", "gate = %s but no gate is configured (knock serve --gate LISTEN=BACKEND)", c.Gate)
			}
		}
		s.doors = append(s.doors, d)
		s.conf2[d] = dc
	}
	if len(opts.Gates) > 0 && !hasGate && len(errs) == 0 {
		errs = append(errs, &knockdconf.Error{File: conf.File, Err: errors.New("--gate is set but no door has gate = open")})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	for _, g := range opts.Gates {
		gt, err := newGate(g, s.logf)
		if err != nil {
			return nil, err
		}
		s.gates = append(s.gates, gt)
	}
	return s, nil
}

// Mode returns the mode the server runs in.
func (s *Server) Mode() Mode { return s.mode }

// Gates returns the built-in gates.
func (s *Server) Gates() []*Gate { return s.gates }

// Stats returns the detector's counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.det == nil {
		return Stats{}
	}
	return s.det.Stats()
}

// Run opens the sockets, serves until ctx is done, then closes them and
// runs the stop commands and gate revocations still pending, so that it
// leaves no door open behind it.
func (s *Server) Run(ctx context.Context) error {
	var err error
	switch s.mode {
	case Sniff:
		iface := s.opts.Interface
		if iface == "" {
			iface = s.conf.Options.Interface
		}
		if iface == "" {
			iface = knockdconf.DefaultInterface
		}
		s.src, err = openSniffer(iface, s.handle)
	default:
		s.src, err = openListener(s.opts.Bind, s.opts.Listeners, s.opts.PacketConns, s.handle)
	}
	if err != nil {
		s.closeGates()
		return err
	}
	local := func(netip.Addr) bool { return true }
	if ls, ok := s.src.(interface{ isLocal(netip.Addr) bool }); ok {
		local = ls.isLocal
	}
	s.mu.Lock()
	s.det = s.newDetector(local)
	err = s.src.ports(s.knocks())
	s.mu.Unlock()
	if err != nil {
		s.src.close()
		s.closeGates()
		return s.portError(err)
	}
	s.emit(Event{Kind: EventReady, Text: s.src.describe()})
	<-ctx.Done()
	s.src.close()
	close(s.stopNow)
	s.pending.Wait()
	s.closeGates()
	st := s.Stats()
	s.logf("stopped: %d packets, %d knock attempts, %d opened, %d evicted (%d past their first knock)",
		st.Packets, st.Attempts, st.Opened, st.Evicted, st.EvictedAdvanced)
	return nil
}

// newDetector builds the detection state machine over the server's doors
// (each with its own seq_timeout) and wires its steps to the doors'
// actions. local reports whether an address is one of ours.
func (s *Server) newDetector(local func(netip.Addr) bool) *Detector {
	d := newDetector(s.doors, local, s.opts.MaxAttempts)
	d.onStep = s.step
	return d
}

func (s *Server) closeGates() {
	for _, g := range s.gates {
		g.Close()
	}
}

// portError names the configuration line of a knock port that could not
// be bound.
func (s *Server) portError(err error) error {
	var pe *portErr
	if !errors.As(err, &pe) {
		return err
	}
	for _, d := range s.doors {
		for _, k := range d.seq {
			if k == pe.knock {
				c := s.conf2[d].c
				key := "sequence"
				if c.OneTimeSequences != "" {
					key = "one_time_sequences"
				}
				line := c.Lines[key]
				if line == 0 {
					line = c.Line
				}
				return &knockdconf.Error{File: s.conf.File, Line: line, Key: key, Err: pe}
			}
		}
	}
	return err
}

// portErr is a knock port that could not be bound.
type portErr struct {
	knock seq.Knock
	err   error
}

func (e *portErr) Error() string {
	return fmt.Sprintf("cannot listen on %d/%s: %v", e.knock.Port, e.knock.Proto, simplifyNetErr(e.err))
}
func (e *portErr) Unwrap() error { return e.err }

func simplifyNetErr(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err
	}
	return err
}

// knocks returns the distinct knocks of the enabled doors, sorted.
func (s *Server) knocks() []seq.Knock {
	seen := map[seq.Knock]bool{}
	var ks []seq.Knock
	for _, d := range s.doors {
		if d.disabled {
			continue
		}
		for _, k := range d.seq {
			if !seen[k] {
				seen[k] = true
				ks = append(ks, k)
			}
		}
	}
	sort.Slice(ks, func(i, j int) bool {
		if ks[i].Proto != ks[j].Proto {
			return ks[i].Proto < ks[j].Proto
		}
		return ks[i].Port < ks[j].Port
	})
	return ks
}

// handle is called by the sources for every packet.
func (s *Server) handle(p Packet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.det != nil {
		s.det.Handle(p)
	}
}

// step runs under s.mu for every matched knock.
func (s *Server) step(a *attempt, opened bool) {
	d := a.door
	s.emit(Event{Kind: EventStage, Src: a.src, Door: d.name, Stage: a.stage, Of: len(d.seq)})
	if !opened {
		return
	}
	s.emit(Event{Kind: EventOpen, Src: a.src, Door: d.name, Stage: a.stage, Of: len(d.seq)})
	dc := s.conf2[d]
	s.pending.Add(1)
	go s.act(dc, a.src)
	if dc.ots != nil {
		next, err := dc.ots.use(d.seq)
		switch {
		case errors.Is(err, errExhausted):
			d.disabled = true
			s.emit(Event{Kind: EventDisabled, Door: d.name, Text: "no more sequences left in " + dc.ots.path + ": door disabled"})
		case err != nil:
			d.disabled = true
			s.emit(Event{Kind: EventDisabled, Door: d.name, Err: err, Text: "one-time sequences: " + err.Error() + ": door disabled"})
		default:
			d.seq = next
			s.emit(Event{Kind: EventSequence, Door: d.name, Text: "used one-time sequence marked; next sequence loaded"})
		}
		if err := s.src.ports(s.knocks()); err != nil {
			s.emit(Event{Kind: EventError, Door: d.name, Err: err, Text: err.Error()})
		}
	}
}

// act runs a door's start command, opens the gate, waits cmd_timeout and
// runs the stop command, as knockd's child process does.
func (s *Server) act(dc *doorConf, ip netip.Addr) {
	defer s.pending.Done()
	start, stop := dc.start, dc.stop
	if ip.Is6() {
		if dc.start6 != nil {
			start = dc.start6
		}
		if dc.stop6 != nil {
			stop = dc.stop6
		}
	}
	name := dc.c.Name
	if start != nil {
		s.run(name, ip, start)
	}
	switch dc.c.Gate {
	case knockdconf.GateOpen:
		for _, g := range s.gates {
			g.Admit(ip, dc.c.CmdTimeout)
			s.emit(Event{Kind: EventAdmit, Src: ip, Door: name, Text: fmt.Sprintf("gate %s admits %s for %s", g.spec.Listen, ip, dc.c.CmdTimeout)})
		}
	case knockdconf.GateClose:
		for _, g := range s.gates {
			g.Revoke(ip)
			s.emit(Event{Kind: EventRevoke, Src: ip, Door: name, Text: fmt.Sprintf("gate %s shuts %s out", g.spec.Listen, ip)})
		}
	}
	if start == nil || stop == nil {
		return
	}
	t := time.NewTimer(dc.c.CmdTimeout)
	select {
	case <-t.C:
	case <-s.stopNow:
		t.Stop()
	}
	s.run(name, ip, stop)
}

func (s *Server) run(door string, ip netip.Addr, c *command) {
	err := c.run(context.Background(), ip, s.opts.ExecTimeout)
	ev := Event{Kind: EventCommand, Src: ip, Door: door, Text: strings.Join(c.expand(ip), " "), Err: err}
	s.emit(ev)
}

// emit logs an event and passes it on.
func (s *Server) emit(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if s.opts.Events != nil {
		s.opts.Events(e)
	}
	if s.opts.Log == nil {
		return
	}
	var msg string
	switch e.Kind {
	case EventReady:
		msg = e.Text
	case EventStage:
		msg = fmt.Sprintf("%s: %s: Stage %d", e.Src, e.Door, e.Stage)
	case EventOpen:
		msg = fmt.Sprintf("%s: %s: OPEN SESAME", e.Src, e.Door)
	case EventCommand:
		msg = fmt.Sprintf("%s: running command: %s", e.Door, e.Text)
		if e.Err != nil {
			msg += ": failed: " + e.Err.Error()
		}
	default:
		msg = e.Text
		if e.Door != "" {
			msg = e.Door + ": " + msg
		}
	}
	s.logf("%s", msg)
}

func (s *Server) logf(format string, args ...any) {
	if s.opts.Log == nil {
		return
	}
	s.logMu.Lock()
	defer s.logMu.Unlock()
	fmt.Fprintf(s.opts.Log, "[%s] %s\n", time.Now().Format("2006-01-02 15:04"), fmt.Sprintf(format, args...))
}
