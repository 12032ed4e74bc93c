//go:build windows

package server

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/windows"
)

// ListenUDP opens a UDP knock socket on addr ("host:port"; an empty host
// means every address, IPv4 and IPv6), to pass in [Options.PacketConns].
// Listen mode opens its own UDP sockets the same way.
//
// On Windows it is a plain Winsock socket read with recvfrom rather than
// one of the net package's: that package sets up every UDP socket for its
// poller with WSAIoctl(SIO_UDP_CONNRESET), which wine does not implement.
// A knock socket only receives and needs no poller. Deadlines are not
// supported.
func ListenUDP(addr string) (net.PacketConn, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	c, err := openUDP(ua)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: "udp", Addr: ua, Err: err}
	}
	return c, nil
}

var (
	ws2             = windows.NewLazySystemDLL("ws2_32.dll")
	procEventSelect = ws2.NewProc("WSAEventSelect")
	wsaOnce         sync.Once
)

// fdRead is the WSAEventSelect network event "data can be read".
const fdRead = 0x01

// udpConn is a non-blocking Winsock UDP socket whose reader waits on two
// events: one that Winsock sets when a datagram arrives (WSAEventSelect)
// and one that Close sets. Close waits for a reader or writer in flight to
// leave before it closes the socket, so neither touches a handle that was
// closed, or reused by another socket.
type udpConn struct {
	s     windows.Handle
	ready windows.Handle // auto-reset: set by Winsock on FD_READ
	stop  windows.Handle // manual-reset: set by Close
	local *net.UDPAddr

	closed  atomic.Bool
	readMu  sync.Mutex   // one reader at a time; held by Close at the end
	buf     []byte       // under readMu; as large as any datagram
	writeMu sync.RWMutex // read-held by writers, held by Close at the end
	once    sync.Once
}

func openUDP(ua *net.UDPAddr) (_ *udpConn, err error) {
	wsaOnce.Do(func() {
		var d windows.WSAData
		_ = windows.WSAStartup(uint32(0x202), &d)
	})
	ip, _ := netip.AddrFromSlice(ua.IP)
	ip = ip.Unmap()
	domain := windows.AF_INET6
	if ip.Is4() {
		domain = windows.AF_INET
	}
	s, err := windows.Socket(domain, windows.SOCK_DGRAM, windows.IPPROTO_UDP)
	if err != nil && !ip.IsValid() && domain == windows.AF_INET6 {
		// No IPv6 on this machine: every address is every IPv4 address.
		domain = windows.AF_INET
		s, err = windows.Socket(domain, windows.SOCK_DGRAM, windows.IPPROTO_UDP)
	}
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	c := &udpConn{s: s, buf: make([]byte, 1<<16)}
	defer func() {
		if err != nil {
			c.release()
		}
	}()
	var sa windows.Sockaddr
	if domain == windows.AF_INET {
		var a4 [4]byte // every address when ip is not valid
		if ip.IsValid() {
			a4 = ip.As4()
		}
		sa = &windows.SockaddrInet4{Port: ua.Port, Addr: a4}
	} else {
		// As net.ListenPacket does: an IPv6 socket for every address
		// takes IPv4 too.
		if !ip.IsValid() {
			_ = windows.SetsockoptInt(s, windows.IPPROTO_IPV6, windows.IPV6_V6ONLY, 0)
		}
		sa = &windows.SockaddrInet6{Port: ua.Port, Addr: ip.As16(), ZoneId: zoneIndex(ua.Zone)}
	}
	if err := windows.Bind(s, sa); err != nil {
		return nil, os.NewSyscallError("bind", err)
	}
	got, err := windows.Getsockname(s)
	if err != nil {
		return nil, os.NewSyscallError("getsockname", err)
	}
	c.local = udpAddr(got)
	if c.ready, err = windows.CreateEvent(nil, 0, 0, nil); err != nil {
		return nil, os.NewSyscallError("createevent", err)
	}
	if c.stop, err = windows.CreateEvent(nil, 1, 0, nil); err != nil {
		return nil, os.NewSyscallError("createevent", err)
	}
	// This also makes the socket non-blocking.
	if r, _, e := procEventSelect.Call(uintptr(s), uintptr(c.ready), fdRead); r != 0 {
		return nil, os.NewSyscallError("wsaeventselect", e)
	}
	return c, nil
}

// ReadFrom reads one datagram into b, truncating it to len(b) as the net
// package does, and returns its sender.
func (c *udpConn) ReadFrom(b []byte) (int, net.Addr, error) {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	for {
		if c.closed.Load() {
			return 0, nil, c.opErr("read", net.ErrClosed)
		}
		n, from, err := windows.Recvfrom(c.s, c.buf, 0)
		switch {
		case err == nil:
			return copy(b, c.buf[:n]), udpAddr(from), nil
		case errors.Is(err, windows.WSAEWOULDBLOCK):
			// Bounded by Close, which sets stop.
			ev, werr := windows.WaitForMultipleObjects([]windows.Handle{c.ready, c.stop}, false, windows.INFINITE)
			if werr != nil {
				return 0, nil, c.opErr("read", os.NewSyscallError("waitformultipleobjects", werr))
			}
			if ev == windows.WAIT_OBJECT_0+1 {
				return 0, nil, c.opErr("read", net.ErrClosed)
			}
		case errors.Is(err, windows.WSAECONNRESET):
			// An ICMP error about an earlier datagram: the socket still works.
		default:
			return 0, nil, c.opErr("read", os.NewSyscallError("recvfrom", err))
		}
	}
}

// WriteTo sends one datagram to addr, a *net.UDPAddr.
func (c *udpConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, c.opErr("write", &net.AddrError{Err: "not a UDP address", Addr: addr.String()})
	}
	c.writeMu.RLock()
	defer c.writeMu.RUnlock()
	if c.closed.Load() {
		return 0, c.opErr("write", net.ErrClosed)
	}
	ip, ok := netip.AddrFromSlice(ua.IP)
	ip = ip.Unmap()
	var sa windows.Sockaddr
	switch {
	case !ok:
		return 0, c.opErr("write", &net.AddrError{Err: "no IP address", Addr: addr.String()})
	case c.local.IP.To4() == nil:
		// An IPv6 socket reaches IPv4 addresses in their mapped form.
		sa = &windows.SockaddrInet6{Port: ua.Port, Addr: ip.As16(), ZoneId: zoneIndex(ua.Zone)}
	case ip.Is4():
		sa = &windows.SockaddrInet4{Port: ua.Port, Addr: ip.As4()}
	default:
		return 0, c.opErr("write", &net.AddrError{Err: "IPv6 address on an IPv4 socket", Addr: addr.String()})
	}
	if err := windows.Sendto(c.s, b, 0, sa); err != nil {
		return 0, c.opErr("write", os.NewSyscallError("sendto", err))
	}
	return len(b), nil
}

// Close wakes a reader in flight, waits for it and any writer to leave,
// and closes the socket.
func (c *udpConn) Close() error {
	if c.closed.Swap(true) {
		return c.opErr("close", net.ErrClosed)
	}
	_ = windows.SetEvent(c.stop)
	c.readMu.Lock()
	defer c.readMu.Unlock()
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.release()
	return nil
}

func (c *udpConn) release() {
	c.once.Do(func() {
		windows.Closesocket(c.s)
		for _, h := range []windows.Handle{c.ready, c.stop} {
			if h != 0 {
				windows.CloseHandle(h)
			}
		}
	})
}

// LocalAddr returns the bound address, a *net.UDPAddr.
func (c *udpConn) LocalAddr() net.Addr { return c.local }

// errNoDeadline is returned by the deadline setters.
var errNoDeadline = errors.New("deadlines are not supported on this socket")

// SetDeadline is not supported.
func (c *udpConn) SetDeadline(time.Time) error { return c.opErr("set", errNoDeadline) }

// SetReadDeadline is not supported.
func (c *udpConn) SetReadDeadline(time.Time) error { return c.opErr("set", errNoDeadline) }

// SetWriteDeadline is not supported.
func (c *udpConn) SetWriteDeadline(time.Time) error { return c.opErr("set", errNoDeadline) }

func (c *udpConn) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "udp", Addr: c.local, Err: err}
}

func udpAddr(sa windows.Sockaddr) *net.UDPAddr {
	switch sa := sa.(type) {
	case *windows.SockaddrInet4:
		return &net.UDPAddr{IP: net.IP(sa.Addr[:]).To16(), Port: sa.Port}
	case *windows.SockaddrInet6:
		a := &net.UDPAddr{IP: append(net.IP(nil), sa.Addr[:]...), Port: sa.Port}
		if sa.ZoneId != 0 {
			if ifi, err := net.InterfaceByIndex(int(sa.ZoneId)); err == nil {
				a.Zone = ifi.Name
			}
		}
		return a
	}
	return &net.UDPAddr{}
}

func zoneIndex(zone string) uint32 {
	if zone == "" {
		return 0
	}
	if ifi, err := net.InterfaceByName(zone); err == nil {
		return uint32(ifi.Index)
	}
	return 0
}
