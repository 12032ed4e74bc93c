//go:build unix

package sender

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"syscall"
)

// rawSocket sends hand-made TCP segments to one address.
type rawSocket interface {
	Send(port uint16, flags uint8) error
	Close() error
}

type rawConn struct {
	c       net.PacketConn
	dst     *net.IPAddr
	src, to netip.Addr
	sport   uint16
	buf     [tcpHeaderLen]byte
	rnd     [8]byte
}

// openRaw opens a raw TCP socket toward addr. The kernel adds the IP header;
// the TCP checksum needs the source address the route will pick, which a
// connected UDP socket reveals without sending anything.
func openRaw(addr netip.Addr) (rawSocket, error) {
	network := "ip4:tcp"
	if addr.Is6() {
		network = "ip6:tcp"
	}
	src, err := localAddrFor(addr)
	if err != nil {
		return nil, err
	}
	c, err := net.ListenPacket(network, "")
	if err != nil {
		return nil, err
	}
	if ipc, ok := c.(*net.IPConn); ok {
		// Never read: keep the copies of incoming TCP traffic small.
		_ = ipc.SetReadBuffer(1)
	}
	r := &rawConn{c: c, dst: &net.IPAddr{IP: addr.AsSlice(), Zone: addr.Zone()}, src: src, to: addr}
	if _, err := rand.Read(r.rnd[:2]); err == nil {
		r.sport = 32768 + binary.BigEndian.Uint16(r.rnd[:2])%28000
	}
	return r, nil
}

func (r *rawConn) Send(port uint16, flags uint8) error {
	if _, err := rand.Read(r.rnd[:]); err != nil {
		return err
	}
	seqNum := binary.BigEndian.Uint32(r.rnd[:4])
	ackNum := binary.BigEndian.Uint32(r.rnd[4:])
	// A fresh source port per knock, as connect() would pick.
	r.sport++
	if r.sport < 32768 {
		r.sport = 32768
	}
	pkt := buildTCP(r.buf[:], r.src, r.to, r.sport, port, flags, seqNum, ackNum)
	_, err := r.c.WriteTo(pkt, r.dst)
	return err
}

func (r *rawConn) Close() error { return r.c.Close() }

// localAddrFor returns the source address the kernel would use toward dst.
func localAddrFor(dst netip.Addr) (netip.Addr, error) {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, 9)))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("no route to %s: %w", dst, err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap(), nil
}

// rawHint names the fix for a raw socket that could not be opened.
func rawHint(err error) string {
	if errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
		if runtime.GOOS == "linux" {
			return "run as root, or grant CAP_NET_RAW: sudo setcap cap_net_raw+ep \"$(command -v knock)\""
		}
		return "run as root (sudo knock ...)"
	}
	return err.Error()
}
