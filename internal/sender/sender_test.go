package sender

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/a-knock/knock/internal/seq"
)

// verifyChecksum verifies a checksum: the one's-complement sum over the pseudo
// header and the segment, checksum included, must be 0xffff.
func verifyChecksum(src, dst netip.Addr, seg []byte) bool {
	c := tcpChecksum(src, dst, seg)
	return c == 0 || c == 0xffff
}

func TestBuildTCP(t *testing.T) {
	for _, c := range []struct{ src, dst string }{
		{"198.51.100.1", "198.51.100.2"},
		{"2001:db8::1", "2001:db8::2"},
	} {
		src, dst := netip.MustParseAddr(c.src), netip.MustParseAddr(c.dst)
		var buf [tcpHeaderLen]byte
		pkt := buildTCP(buf[:], src, dst, 40000, 7000, seq.FIN|seq.ACK, 0x01020304, 0x0a0b0c0d)
		if len(pkt) != 20 {
			t.Fatalf("len %d", len(pkt))
		}
		if binary.BigEndian.Uint16(pkt[0:]) != 40000 || binary.BigEndian.Uint16(pkt[2:]) != 7000 {
			t.Errorf("ports wrong: % x", pkt)
		}
		if pkt[13] != seq.FIN|seq.ACK || pkt[12] != 5<<4 {
			t.Errorf("flags/offset wrong: % x", pkt)
		}
		if binary.BigEndian.Uint32(pkt[8:]) != 0x0a0b0c0d {
			t.Errorf("ack number dropped with ACK set")
		}
		if !verifyChecksum(src, dst, pkt) {
			t.Errorf("%s: checksum does not verify: % x", c.src, pkt)
		}
		pkt = buildTCP(buf[:], src, dst, 40000, 7000, seq.SYN, 1, 99)
		if binary.BigEndian.Uint32(pkt[8:]) != 0 {
			t.Errorf("ack number set without ACK")
		}
	}
}

// A known answer: a SYN from 10.0.0.1:1234 to 10.0.0.2:80, seq 1, window
// 64240, computed by hand from RFC 1071.
func TestChecksumKnownAnswer(t *testing.T) {
	var buf [tcpHeaderLen]byte
	pkt := buildTCP(buf[:], netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), 1234, 80, seq.SYN, 1, 0)
	// Sum of 16-bit words: pseudo header 0a00+0001+0a00+0002+0006+0014 =
	// 0x141d; TCP header 04d2+0050+0000+0001+0000+0000+5002+faf0+0000+0000
	// = 0x15015. Total 0x16432, folded 0x6433, complemented 0x9bcc.
	if got := binary.BigEndian.Uint16(pkt[16:]); got != 0x9bcc {
		t.Fatalf("checksum %#04x, want 0x9bcc", got)
	}
}

func TestResetKnock(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"7000,8000,9000", "8000:tcp", true},
		{"1,2,3,4,5", "3:tcp", true},
		{"1,2", "", false},
		{"1", "", false},
		{"1,1,1", "", false},
		{"5,5,6,7", "6:tcp", true},
	} {
		s, _ := seq.Parse(seq.TCP, c.in)
		k, ok := resetKnock(s)
		if ok != c.ok || (ok && k.String() != c.want) {
			t.Errorf("resetKnock(%s) = %s %v, want %s %v", c.in, k, ok, c.want, c.ok)
		}
		if ok && (k == s[0] || k == s[len(s)-1]) {
			t.Errorf("resetKnock(%s) = %s is a first or last knock", c.in, k)
		}
	}
}

// TestConnectAndUDPLoopback sends real knocks to loopback listeners.
func TestConnectAndUDPLoopback(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	addr := netip.MustParseAddr("127.0.0.1")
	tport := uint16(ln.Addr().(*net.TCPAddr).Port)
	uport := uint16(pc.LocalAddr().(*net.UDPAddr).Port)
	s, err := New(addr, Options{Method: Connect, Payload: []byte("knock")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sq := seq.Sequence{{Port: tport, Proto: seq.TCP}, {Port: uport, Proto: seq.UDP}}
	if err := s.Send(context.Background(), sq); err != nil {
		t.Fatal(err)
	}
	accepted := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Close()
		}
		accepted <- err
	}()
	select {
	case err := <-accepted:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the TCP knock never reached the listener")
	}
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	n, _, err := pc.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "knock" {
		t.Fatalf("UDP knock: %q %v", buf[:n], err)
	}
	// A closed port answers with RST; that is still one knock sent.
	if err := s.Send(context.Background(), seq.Sequence{{Port: 1, Proto: seq.TCP}}); err != nil {
		t.Fatalf("knock to a closed port: %v", err)
	}
}

// The prober sees a listening port, and keeps probing a closed one until
// its context ends.
func TestProber(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	addr := netip.MustParseAddr("127.0.0.1")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	won := StartProber(ctx, addr, port)
	select {
	case <-won.Opened():
	case <-ctx.Done():
		t.Fatal("open port not seen")
	}
	// The winner's start and connect time, for the round-trip time the
	// verify loop learns.
	if sent, took, ok := won.Winner(); !ok || sent.Before(start) || took <= 0 || took > time.Since(start) {
		t.Fatalf("winner %v %v %v", sent, took, ok)
	}
	ln.Close()
	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	p := StartProber(ctx, addr, port)
	<-ctx.Done()
	if p.IsOpened() {
		t.Fatal("closed port reported open")
	}
	if _, _, ok := p.Winner(); ok {
		t.Fatal("a winner for a closed port")
	}
	if IsOpen(context.Background(), addr, port, time.Second) {
		t.Fatal("IsOpen: closed port reported open")
	}
}

// TestPacing checks when each knock arrives, measured from the call:
// knock i at i delays (the first at once), never earlier and not a delay
// later. Arrivals are stamped by a reader running alongside.
func TestPacing(t *testing.T) {
	const delay = 100 * time.Millisecond
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	port := uint16(pc.LocalAddr().(*net.UDPAddr).Port)
	sq := seq.Sequence{{Port: port, Proto: seq.UDP}, {Port: port, Proto: seq.UDP}, {Port: port, Proto: seq.UDP}, {Port: port, Proto: seq.UDP}}
	arrived := make(chan time.Time, len(sq))
	go func() {
		buf := make([]byte, 8)
		for range sq {
			pc.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, _, err := pc.ReadFrom(buf); err != nil {
				close(arrived)
				return
			}
			arrived <- time.Now()
		}
		close(arrived)
	}()
	s, err := New(netip.MustParseAddr("127.0.0.1"), Options{Delay: delay})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := s.Send(context.Background(), sq); err != nil {
		t.Fatal(err)
	}
	i := 0
	for at := range arrived {
		want := time.Duration(i) * delay
		if d := at.Sub(start); d < want || d > want+delay/2 {
			t.Errorf("knock %d arrived %s after the start, want %s (+%s at most)", i, d, want, delay/2)
		}
		i++
	}
	if i != len(sq) {
		t.Fatalf("%d of %d knocks arrived", i, len(sq))
	}
}

func TestRawNeedsPrivilegeMessage(t *testing.T) {
	f, _ := seq.ParseFlags("fin,!ack")
	_, err := New(netip.MustParseAddr("127.0.0.1"), Options{Method: Connect, Flags: f})
	if err == nil {
		t.Fatal("connect with fin flags accepted")
	}
}
