package sender

import (
	"net/netip"
	"testing"

	"github.com/knock-dev/knock/internal/seq"
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
