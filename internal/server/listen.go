package server

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/a-knock/knock/internal/seq"
)

// listener is the listen-mode source: it binds every knock port and
// turns each accepted TCP connection into a SYN and each datagram into a
// UDP knock. It cannot see TCP flags other than a SYN, nor packets that a
// firewall drops before they reach the socket.
type listener struct {
	bind   []netip.Addr
	handle func(Packet)

	mu     sync.Mutex
	socks  map[seq.Knock][]io.Closer
	spare  map[seq.Knock][]io.Closer // opened by the caller, not yet used
	closed bool
	wg     sync.WaitGroup
	poll   *poller // nil where the platform has none
}

// reorderWindow is how long listen mode holds a packet so that packets
// seen by different sockets are handed on in the order they arrived:
// the goroutines serving the sockets wake in any order.
const reorderWindow = 30 * time.Millisecond

func openListener(bind []netip.Addr, lns []net.Listener, pcs []net.PacketConn, handle func(Packet)) (source, error) {
	l := &listener{bind: bind, handle: newReorderer(reorderWindow, handle), socks: map[seq.Knock][]io.Closer{}, spare: map[seq.Knock][]io.Closer{}}
	l.poll = newPoller(handle)
	for _, ln := range lns {
		ap, _ := netip.ParseAddrPort(ln.Addr().String())
		k := seq.Knock{Port: ap.Port(), Proto: seq.TCP}
		l.spare[k] = append(l.spare[k], ln)
	}
	for _, pc := range pcs {
		ap, _ := netip.ParseAddrPort(pc.LocalAddr().String())
		k := seq.Knock{Port: ap.Port(), Proto: seq.UDP}
		l.spare[k] = append(l.spare[k], pc)
	}
	return l, nil
}

func (l *listener) describe() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	where := "all addresses"
	if len(l.bind) > 0 {
		var as []string
		for _, a := range l.bind {
			as = append(as, a.String())
		}
		where = strings.Join(as, ", ")
	}
	// The ports themselves are part of the secret: count them only.
	return fmt.Sprintf("listen mode: listening on %s, %d knock port(s)", where, len(l.socks))
}

// ports opens the sockets of knocks not served yet and closes those no
// door uses any more.
func (l *listener) ports(ks []seq.Knock) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	want := map[seq.Knock]bool{}
	for _, k := range ks {
		want[k] = true
		if _, ok := l.socks[k]; ok {
			continue
		}
		socks, err := l.open(k)
		if err != nil {
			return &portErr{knock: k, err: err}
		}
		l.socks[k] = socks
	}
	for k, socks := range l.socks {
		if !want[k] {
			for _, c := range socks {
				l.poll.forget(c)
				c.Close()
			}
			delete(l.socks, k)
		}
	}
	return nil
}

func (l *listener) addrs(port uint16) []string {
	if len(l.bind) == 0 {
		return []string{fmt.Sprintf(":%d", port)}
	}
	var out []string
	for _, a := range l.bind {
		out = append(out, netip.AddrPortFrom(a, port).String())
	}
	return out
}

// open binds one knock's sockets. l.mu is held.
func (l *listener) open(k seq.Knock) ([]io.Closer, error) {
	if spare := l.spare[k]; len(spare) > 0 {
		delete(l.spare, k)
		for _, c := range spare {
			l.serve(k, c)
		}
		return spare, nil
	}
	var socks []io.Closer
	for _, a := range l.addrs(k.Port) {
		var c io.Closer
		var err error
		if k.Proto == seq.TCP {
			c, err = net.Listen("tcp", a)
		} else {
			c, err = ListenUDP(a)
		}
		if err != nil {
			for _, s := range socks {
				s.Close()
			}
			return nil, err
		}
		socks = append(socks, c)
	}
	for _, c := range socks {
		l.serve(k, c)
	}
	return socks, nil
}

func (l *listener) serve(k seq.Knock, c io.Closer) {
	if l.poll != nil && l.poll.watch(k, c) == nil {
		return
	}
	l.wg.Add(1)
	switch c := c.(type) {
	case net.Listener:
		go l.accept(k, c)
	case net.PacketConn:
		go l.read(k, c)
	}
}

func (l *listener) accept(k seq.Knock, ln net.Listener) {
	defer l.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			if isTemporary(err) {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return
		}
		now := time.Now()
		src, _ := netip.ParseAddrPort(c.RemoteAddr().String())
		dst, _ := netip.ParseAddrPort(c.LocalAddr().String())
		reset(c)
		l.handle(Packet{Src: src.Addr(), Dst: dst.Addr(), Proto: seq.TCP, Port: k.Port, Flags: seq.SYN, Time: now})
	}
}

func (l *listener) read(k seq.Knock, pc net.PacketConn) {
	defer l.wg.Done()
	buf := make([]byte, 2048)
	for {
		_, from, err := pc.ReadFrom(buf)
		if err != nil {
			if isTemporary(err) {
				continue
			}
			return
		}
		now := time.Now()
		src, _ := netip.ParseAddrPort(from.String())
		l.handle(Packet{Src: src.Addr(), Proto: seq.UDP, Port: k.Port, Time: now})
	}
}

// isTemporary reports errors after which a socket still works: ICMP
// errors reported on a UDP socket, or running out of file descriptors.
func isTemporary(err error) bool {
	s := err.Error()
	return strings.Contains(s, "connection refused") || strings.Contains(s, "too many open files") ||
		strings.Contains(s, "forcibly closed") || strings.Contains(s, "message too long")
}

func (l *listener) close() {
	l.poll.close()
	l.mu.Lock()
	l.closed = true
	for k, socks := range l.socks {
		for _, c := range socks {
			c.Close()
		}
		delete(l.socks, k)
	}
	for k, spare := range l.spare {
		for _, c := range spare {
			c.Close()
		}
		delete(l.spare, k)
	}
	l.mu.Unlock()
	l.wg.Wait()
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// reorderer delays packets by a short window and releases them sorted by
// their time stamps.
type reorderer struct {
	window time.Duration
	next   func(Packet)
	mu     sync.Mutex
	held   []Packet
	timer  *time.Timer
}

func newReorderer(window time.Duration, next func(Packet)) func(Packet) {
	r := &reorderer{window: window, next: next}
	return r.add
}

func (r *reorderer) add(p Packet) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.held) >= 4096 {
		// Under a flood, hand on at once rather than hold unbounded memory.
		r.flushLocked(time.Now().Add(r.window))
	}
	i := len(r.held)
	for i > 0 && r.held[i-1].Time.After(p.Time) {
		i--
	}
	r.held = append(r.held, Packet{})
	copy(r.held[i+1:], r.held[i:])
	r.held[i] = p
	if r.timer == nil {
		r.timer = time.AfterFunc(r.window, r.flush)
	}
}

func (r *reorderer) flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.timer = nil
	r.flushLocked(time.Now())
	if len(r.held) > 0 {
		r.timer = time.AfterFunc(r.window, r.flush)
	}
}

// flushLocked hands on the packets older than the window before now.
func (r *reorderer) flushLocked(now time.Time) {
	n := 0
	for n < len(r.held) && now.Sub(r.held[n].Time) >= r.window {
		r.next(r.held[n])
		n++
	}
	r.held = append(r.held[:0], r.held[n:]...)
}
