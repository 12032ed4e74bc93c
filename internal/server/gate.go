package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// maxGateConns bounds the connections one gate relays at once.
const maxGateConns = 256

// GateSpec names a gate: the TCP address it listens on and the local
// service behind it, as given to `knock serve --gate LISTEN=BACKEND`.
type GateSpec struct {
	Listen  string
	Backend string
}

// ParseGateSpec parses "LISTEN=BACKEND", each HOST:PORT; a LISTEN without
// a host (":2222") listens on every address.
func ParseGateSpec(s string) (GateSpec, error) {
	l, b, ok := strings.Cut(s, "=")
	if !ok || l == "" || b == "" {
		return GateSpec{}, fmt.Errorf("invalid gate %q (want LISTEN=BACKEND, e.g. :2222=127.0.0.1:22)", s)
	}
	for _, a := range []string{l, b} {
		_, port, err := net.SplitHostPort(a)
		if err != nil || port == "" {
			return GateSpec{}, fmt.Errorf("invalid gate %q: %q is not HOST:PORT", s, a)
		}
		if n, err := net.LookupPort("tcp", port); err != nil || n == 0 {
			return GateSpec{}, fmt.Errorf("invalid gate %q: port %q of %q (want 1..65535)", s, port, a)
		}
	}
	return GateSpec{Listen: l, Backend: b}, nil
}

// Gate guards a local TCP service. It admits only addresses that knocked,
// each for a limited time, and relays their connections to the backend.
// It listens only while some address is admitted, so that a port nobody
// knocked for refuses connections as a closed port does; while it
// listens, connections from addresses not admitted are reset before a
// byte reaches the backend. Connections already relayed outlive the
// admission, as established connections outlive a firewall rule.
type Gate struct {
	spec GateSpec
	logf func(format string, args ...any)

	mu       sync.Mutex
	admitted map[netip.Addr]time.Time
	ln       net.Listener
	timer    *time.Timer
	conns    chan struct{}
	closed   bool
	wg       sync.WaitGroup
}

// newGate checks that the listen address can be bound and returns the
// gate, closed until an address is admitted.
func newGate(spec GateSpec, logf func(string, ...any)) (*Gate, error) {
	ln, err := net.Listen("tcp", spec.Listen)
	if err != nil {
		return nil, fmt.Errorf("gate %s: %w", spec.Listen, err)
	}
	ln.Close()
	if logf == nil {
		logf = func(string, ...any) {}
	}
	return &Gate{spec: spec, logf: logf, admitted: map[netip.Addr]time.Time{}, conns: make(chan struct{}, maxGateConns)}, nil
}

// Admit lets ip through for d (extending an earlier admission).
func (g *Gate) Admit(ip netip.Addr, d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	until := time.Now().Add(d)
	if until.After(g.admitted[ip]) {
		g.admitted[ip] = until
	}
	g.reconcile()
}

// Revoke shuts ip out at once.
func (g *Gate) Revoke(ip netip.Addr) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.admitted, ip)
	g.reconcile()
}

// Admitted reports whether ip may connect now.
func (g *Gate) Admitted(ip netip.Addr) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return time.Now().Before(g.admitted[ip.Unmap().WithZone("")])
}

// Close stops listening; relayed connections are left to finish.
func (g *Gate) Close() {
	g.mu.Lock()
	g.closed = true
	clear(g.admitted)
	g.reconcile()
	g.mu.Unlock()
	g.wg.Wait()
}

// reconcile drops expired admissions, listens when someone is admitted,
// stops when nobody is, and arms the timer for the next expiry. g.mu is
// held.
func (g *Gate) reconcile() {
	now := time.Now()
	var next time.Time
	for ip, until := range g.admitted {
		if !now.Before(until) {
			delete(g.admitted, ip)
			g.logf("%s: gate %s: admission expired", ip, g.spec.Listen)
			continue
		}
		if next.IsZero() || until.Before(next) {
			next = until
		}
	}
	if g.timer != nil {
		g.timer.Stop()
		g.timer = nil
	}
	switch {
	case len(g.admitted) > 0 && g.ln == nil && !g.closed:
		ln, err := net.Listen("tcp", g.spec.Listen)
		if err != nil {
			g.logf("gate %s: cannot listen: %v", g.spec.Listen, err)
			break
		}
		g.ln = ln
		g.wg.Add(1)
		go g.serve(ln)
	case len(g.admitted) == 0 && g.ln != nil:
		g.ln.Close()
		g.ln = nil
	}
	if !next.IsZero() {
		g.timer = time.AfterFunc(time.Until(next), func() {
			g.mu.Lock()
			defer g.mu.Unlock()
			g.reconcile()
		})
	}
}

func (g *Gate) serve(ln net.Listener) {
	defer g.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		ap, _ := netip.ParseAddrPort(c.RemoteAddr().String())
		ip := ap.Addr().Unmap().WithZone("")
		if !g.Admitted(ip) {
			reset(c)
			continue
		}
		select {
		case g.conns <- struct{}{}:
		default:
			g.logf("%s: gate %s: too many connections, refused", ip, g.spec.Listen)
			reset(c)
			continue
		}
		go func() {
			defer func() { <-g.conns }()
			g.relay(c, ip)
		}()
	}
}

// reset closes c with a RST rather than a FIN.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}

func (g *Gate) relay(c net.Conn, ip netip.Addr) {
	defer c.Close()
	b, err := net.DialTimeout("tcp", g.spec.Backend, 5*time.Second)
	if err != nil {
		g.logf("%s: gate %s: backend %s: %v", ip, g.spec.Listen, g.spec.Backend, err)
		reset(c)
		return
	}
	defer b.Close()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		} else {
			dst.Close()
		}
		done <- struct{}{}
	}
	go pipe(b, c)
	go pipe(c, b)
	<-done
	<-done
}
