package sender

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/a-knock/knock/internal/seq"
)

// Packet building is the hot path of raw knocks: one header per knock,
// built in a buffer the sender reuses, so it must not allocate.

func BenchmarkBuildTCP4(b *testing.B) {
	src, dst := netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2")
	var buf [tcpHeaderLen]byte
	b.ReportAllocs()
	b.SetBytes(tcpHeaderLen)
	for b.Loop() {
		_ = buildTCP(buf[:], src, dst, 40000, 7000, seq.FIN, 0x01020304, 0)
	}
}

func BenchmarkBuildTCP6(b *testing.B) {
	src, dst := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	var buf [tcpHeaderLen]byte
	b.ReportAllocs()
	b.SetBytes(tcpHeaderLen)
	for b.Loop() {
		_ = buildTCP(buf[:], src, dst, 40000, 7000, seq.SYN|seq.ACK, 0x01020304, 0x0a0b0c0d)
	}
}

func BenchmarkDescribe(b *testing.B) {
	sq, err := seq.Parse(seq.TCP, "7000,8000:udp,9000")
	if err != nil {
		b.Fatal(err)
	}
	addr := netip.MustParseAddr("198.51.100.2")
	b.ReportAllocs()
	for b.Loop() {
		_ = Describe(addr, sq, Options{}, Connect)
	}
}

// BenchmarkResetPlan covers the retry's choice of reset knock for the
// longest sequence knockd accepts.
func BenchmarkResetPlan(b *testing.B) {
	sq := make(seq.Sequence, seq.MaxKnocks)
	for i := range sq {
		sq[i] = seq.Knock{Port: uint16(7000 + i%5), Proto: seq.TCP}
	}
	b.ReportAllocs()
	for b.Loop() {
		k, ok := resetKnock(sq)
		if ok {
			_ = resetCopies(sq, k)
		}
	}
}

// BenchmarkPacing measures how closely --delay is kept: it sends five
// UDP knocks 5 ms apart to a loopback listener and reports the largest
// deviation of a knock's arrival from its schedule (first knock + i*delay)
// as max-late-µs (and max-early-µs, which drift-free pacing keeps at 0).
func BenchmarkPacing(b *testing.B) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer pc.Close()
	port := uint16(pc.LocalAddr().(*net.UDPAddr).Port)
	const delay = 5 * time.Millisecond
	s, err := New(netip.MustParseAddr("127.0.0.1"), Options{Delay: delay})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	sq := make(seq.Sequence, 5)
	for i := range sq {
		sq[i] = seq.Knock{Port: port, Proto: seq.UDP}
	}
	var late, early time.Duration
	buf := make([]byte, 16)
	for b.Loop() {
		done := make(chan []time.Time, 1)
		go func() {
			var at []time.Time
			for range sq {
				pc.SetReadDeadline(time.Now().Add(2 * time.Second))
				if _, _, err := pc.ReadFrom(buf); err != nil {
					break
				}
				at = append(at, time.Now())
			}
			done <- at
		}()
		if err := s.Send(context.Background(), sq); err != nil {
			b.Fatal(err)
		}
		at := <-done
		if len(at) != len(sq) {
			b.Fatalf("%d of %d knocks arrived", len(at), len(sq))
		}
		for i, t := range at {
			d := t.Sub(at[0]) - time.Duration(i)*delay
			late, early = max(late, d), max(early, -d)
		}
	}
	b.ReportMetric(float64(late.Microseconds()), "max-late-µs")
	b.ReportMetric(float64(early.Microseconds()), "max-early-µs")
}
