//go:build !windows

package spa

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"golang.org/x/net/ipv4"
)

// sendRaw sends one hand-built IPv4 packet on a raw socket with
// IP_HDRINCL (Linux, the BSDs and macOS; root only).
func sendRaw(t Transport, payload []byte) error {
	dst := t.Dst.Addr().Unmap()
	src := t.Src.Unmap()
	if !src.IsValid() {
		var err error
		if src, err = localAddrFor(dst); err != nil {
			return err
		}
	}
	srcPort := t.SrcPort
	if srcPort == 0 && t.Proto != ICMP {
		var err error
		if srcPort, err = RandomPort(); err != nil {
			return err
		}
	}
	seg, proto := rawSegment(t, src, srcPort, payload)
	name := map[int]string{protoICMP: "icmp", protoTCP: "tcp", protoUDP: "udp"}[proto]
	c, err := net.ListenPacket("ip4:"+name, "0.0.0.0")
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return fmt.Errorf("%w: %v (raw sockets need root)", ErrRaw, err)
		}
		return fmt.Errorf("%w: %v", ErrRaw, err)
	}
	defer c.Close()
	rc, err := ipv4.NewRawConn(c)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrRaw, err)
	}
	var id [2]byte
	_, _ = rand.Read(id[:])
	h := &ipv4.Header{
		Version:  ipv4.Version,
		Len:      ipv4.HeaderLen,
		TotalLen: ipv4.HeaderLen + len(seg),
		ID:       int(binary.BigEndian.Uint16(id[:])),
		TTL:      rawTTL,
		Protocol: proto,
		Src:      net.IP(src.AsSlice()),
		Dst:      net.IP(dst.AsSlice()),
	}
	return rc.WriteTo(h, seg, nil)
}

// localAddrFor returns the source address the kernel would use towards
// dst; a UDP "connect" sends nothing.
func localAddrFor(dst netip.Addr) (netip.Addr, error) {
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, 9)))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("no route to %s: %w", dst, err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap(), nil
}
