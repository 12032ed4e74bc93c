package server

import (
	"errors"
	"io"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/a-knock/knock/internal/seq"
)

// poller serves every listen-mode socket from one goroutine and one epoll
// set. epoll reports ready sockets in the order they became ready, so
// knocks that arrive back to back on different ports are handled in
// their arrival order, which goroutines per socket cannot promise.
type poller struct {
	handle func(Packet)
	epfd   int

	mu    sync.Mutex
	socks map[int32]*polled
	done  chan struct{}
	wg    sync.WaitGroup
}

type polled struct {
	fd    int
	knock seq.Knock
	c     io.Closer
}

func newPoller(handle func(Packet)) *poller {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil
	}
	p := &poller{handle: handle, epfd: epfd, socks: map[int32]*polled{}, done: make(chan struct{})}
	p.wg.Add(1)
	go p.loop()
	return p
}

func sysFD(c io.Closer) (int, bool) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0, false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	fd := -1
	if raw.Control(func(f uintptr) { fd = int(f) }) != nil || fd < 0 {
		return 0, false
	}
	return fd, true
}

// watch adds a socket; the caller serves it itself when watch fails.
func (p *poller) watch(k seq.Knock, c io.Closer) error {
	if p == nil {
		return errors.New("no poller")
	}
	fd, ok := sysFD(c)
	if !ok {
		return errors.New("no file descriptor")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return err
	}
	p.socks[int32(fd)] = &polled{fd: fd, knock: k, c: c}
	return nil
}

// forget removes a socket before its owner closes it.
func (p *poller) forget(c io.Closer) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for fd, s := range p.socks {
		if s.c == c {
			_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, s.fd, nil)
			delete(p.socks, fd)
		}
	}
}

func (p *poller) close() {
	if p == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	close(p.done)
	p.wg.Wait()
	p.mu.Lock()
	for fd, s := range p.socks {
		_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, s.fd, nil)
		delete(p.socks, fd)
	}
	p.mu.Unlock()
	unix.Close(p.epfd)
}

func (p *poller) loop() {
	defer p.wg.Done()
	events := make([]unix.EpollEvent, 64)
	buf := make([]byte, 2048)
	var pkts []Packet
	for {
		select {
		case <-p.done:
			return
		default:
		}
		n, err := unix.EpollWait(p.epfd, events, 100)
		now := time.Now()
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		// Collect under the lock, deliver without it: handling a packet
		// may change the knock ports, which calls watch or forget.
		pkts = pkts[:0]
		p.mu.Lock()
		for _, ev := range events[:n] {
			if s := p.socks[ev.Fd]; s != nil {
				pkts = p.drain(s, buf, now, pkts)
			}
		}
		p.mu.Unlock()
		for _, pk := range pkts {
			p.handle(pk)
		}
	}
}

// drain accepts every pending connection, or reads every pending datagram,
// of one socket (bounded, so one socket cannot starve the others).
func (p *poller) drain(s *polled, buf []byte, now time.Time, pkts []Packet) []Packet {
	for i := 0; i < 64; i++ {
		var from unix.Sockaddr
		var local netip.Addr
		if s.knock.Proto == seq.TCP {
			nfd, sa, err := unix.Accept4(s.fd, unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK)
			if err != nil {
				return pkts
			}
			if la, err := unix.Getsockname(nfd); err == nil {
				local = sockaddrAddr(la)
			}
			// Reset rather than close politely: nothing is listening.
			_ = unix.SetsockoptLinger(nfd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
			unix.Close(nfd)
			from = sa
		} else {
			_, sa, err := unix.Recvfrom(s.fd, buf, unix.MSG_DONTWAIT)
			if err != nil {
				if errors.Is(err, unix.ECONNREFUSED) {
					continue
				}
				return pkts
			}
			from = sa
		}
		src := sockaddrAddr(from)
		if !src.IsValid() {
			continue
		}
		pkts = append(pkts, Packet{Src: src, Dst: local, Proto: s.knock.Proto, Port: s.knock.Port, Flags: flagsFor(s.knock.Proto), Time: now})
	}
	return pkts
}

func flagsFor(p seq.Proto) uint8 {
	if p == seq.TCP {
		return seq.SYN
	}
	return 0
}

func sockaddrAddr(sa unix.Sockaddr) netip.Addr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrFrom4(a.Addr)
	case *unix.SockaddrInet6:
		return netip.AddrFrom16(a.Addr).Unmap()
	}
	return netip.Addr{}
}
