package server

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/a-knock/knock/internal/seq"
)

// sniffAvailable reports whether Auto should pick sniff mode: Linux and
// root. (A process with only CAP_NET_RAW can ask for --sniff explicitly.)
func sniffAvailable() bool { return os.Geteuid() == 0 }

// sniffer is the sniff-mode source: a cooked AF_PACKET socket on one
// interface with a BPF filter, which sees packets before netfilter, so
// knocks to ports the firewall drops still count.
type sniffer struct {
	iface  string
	fd     int
	local  map[netip.Addr]bool
	handle func(Packet)
	mu     sync.Mutex
	ports_ []seq.Knock
	done   chan struct{}
	wg     sync.WaitGroup
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func openSniffer(iface string, handle func(Packet)) (source, error) {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, fmt.Errorf("sniff on interface %q: %w (choose one with -i)", iface, err)
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return nil, fmt.Errorf("sniff on interface %q: %w", iface, err)
	}
	s := &sniffer{iface: iface, local: map[netip.Addr]bool{}, handle: handle, done: make(chan struct{})}
	for _, a := range addrs {
		if pn, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(pn.IP); ok {
				s.local[ip.Unmap()] = true
			}
		}
	}
	if len(s.local) == 0 {
		return nil, fmt.Errorf("sniff on interface %q: it has no IP address", iface)
	}
	// Protocol 0 receives nothing until bind, so no packet slips in
	// before the filter is attached.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return nil, fmt.Errorf("%w: packet socket: %v (run as root or grant CAP_NET_RAW, or use --listen)", ErrSniffUnsupported, err)
		}
		return nil, fmt.Errorf("packet socket: %w", err)
	}
	s.fd = fd
	if err := s.attach(nil); err != nil {
		unix.Close(fd)
		return nil, err
	}
	tv := unix.NsecToTimeval(int64(200 * time.Millisecond))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("packet socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind packet socket to %s: %w", iface, err)
	}
	s.wg.Add(1)
	go s.loop()
	return s, nil
}

func (s *sniffer) isLocal(a netip.Addr) bool { return s.local[a] }

func (s *sniffer) describe() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var as []string
	for a := range s.local {
		as = append(as, a.String())
	}
	sortStrings(as)
	// The ports themselves are part of the secret: count them only.
	return fmt.Sprintf("sniff mode: listening on %s (%s), %d knock port(s)", s.iface, strings.Join(as, ", "), len(s.ports_))
}

// attach installs (or replaces) the kernel filter for ks.
func (s *sniffer) attach(ks []seq.Knock) error {
	raw, err := knockFilter(ks)
	if err != nil {
		return fmt.Errorf("build packet filter: %w", err)
	}
	prog := unix.SockFprog{Len: uint16(len(raw)), Filter: (*unix.SockFilter)(unsafe.Pointer(&raw[0]))}
	if err := unix.SetsockoptSockFprog(s.fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &prog); err != nil {
		return fmt.Errorf("attach packet filter: %w", err)
	}
	return nil
}

func (s *sniffer) ports(ks []seq.Knock) error {
	s.mu.Lock()
	s.ports_ = ks
	s.mu.Unlock()
	return s.attach(ks)
}

func (s *sniffer) loop() {
	defer s.wg.Done()
	buf := make([]byte, 2048)
	for {
		select {
		case <-s.done:
			return
		default:
		}
		n, from, err := unix.Recvfrom(s.fd, buf, 0)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) || errors.Is(err, unix.ENOBUFS) {
				continue
			}
			select {
			case <-s.done:
				return
			default:
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		p, err := parseIP(buf[:n], time.Now())
		if err != nil {
			continue
		}
		s.handle(p)
	}
}

func (s *sniffer) close() {
	close(s.done)
	s.wg.Wait()
	unix.Close(s.fd)
}
