package sender

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/a-knock/knock/internal/seq"
)

func TestResetCopies(t *testing.T) {
	for _, c := range []struct {
		in     string
		reset  string
		copies int
	}{
		// An attempt that expects the reset knock absorbs one copy, the
		// next kills it; two spares against loss.
		{"7000,8000,9000", "8000:tcp", 4},
		// 8000 is expected twice in a row from stage 1.
		{"7000,8000,8000,9000", "8000:tcp", 5},
		{"1,2,3,4,5", "3:tcp", 4},
	} {
		sq, _ := seq.Parse(seq.TCP, c.in)
		k, ok := resetKnock(sq)
		if !ok || k.String() != c.reset {
			t.Fatalf("resetKnock(%s) = %s %v, want %s", c.in, k, ok, c.reset)
		}
		if n := resetCopies(sq, k); n != c.copies {
			t.Errorf("resetCopies(%s, %s) = %d, want %d", c.in, k, n, c.copies)
		}
	}
}

// The reset knock is never the first knock (two in a row break a clean
// sequence) nor the last (the first knock of a reversed close door).
func TestResetKnockNeverFirstOrLast(t *testing.T) {
	for _, in := range []string{"1,2,3", "1,2,1", "1,2,3,1", "3,2,1,2,3", "1,1,2,2", "5,6,5,6,5", "1,2:udp,2"} {
		sq, _ := seq.Parse(seq.TCP, in)
		k, ok := resetKnock(sq)
		if ok && (k == sq[0] || k == sq[len(sq)-1]) {
			t.Errorf("resetKnock(%s) = %s", in, k)
		}
	}
}

func TestRoundWaitGrows(t *testing.T) {
	prev := time.Duration(0)
	for r := 0; r < 8; r++ {
		w := roundWait(r, 20, time.Hour)
		if w < prev || w > maxWait {
			t.Fatalf("round %d waits %s after %s", r, w, prev)
		}
		prev = w
	}
	if w := roundWait(0, 9, 10*time.Second); w != firstWait {
		t.Errorf("first wait %s, want %s", w, firstWait)
	}
}

// udpSink returns a loopback UDP port that swallows knocks.
func udpSink(t *testing.T) uint16 {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return uint16(pc.LocalAddr().(*net.UDPAddr).Port)
}

// freePort returns a loopback TCP port with nothing listening on it.
func freePort(t *testing.T) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := uint16(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	return p
}

// A door that opens late, after a replay has started, is still seen: the
// prober watches across rounds.
func TestKnockSeesLateDoor(t *testing.T) {
	addr := netip.MustParseAddr("127.0.0.1")
	k := udpSink(t)
	sq := seq.Sequence{{Port: k, Proto: seq.UDP}, {Port: k, Proto: seq.UDP}, {Port: k, Proto: seq.UDP}}
	port := freePort(t)
	go func() {
		time.Sleep(3 * firstWait)
		ln, err := net.Listen("tcp", netip.AddrPortFrom(addr, port).String())
		if err != nil {
			return
		}
		t.Cleanup(func() { ln.Close() })
	}()
	s, err := New(addr, Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Knock(context.Background(), sq, Verify{Port: port, Timeout: 10 * time.Second, Retries: 8})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Verified || res.Rounds < 2 {
		t.Fatalf("result %+v: want verified after a replay", res)
	}
}

func TestKnockGivesUp(t *testing.T) {
	addr := netip.MustParseAddr("127.0.0.1")
	k := udpSink(t)
	s, err := New(addr, Options{})
	if err != nil {
		t.Fatal(err)
	}
	sq := seq.Sequence{{Port: k, Proto: seq.UDP}, {Port: k + 1, Proto: seq.UDP}, {Port: k, Proto: seq.UDP}}
	res, err := s.Knock(context.Background(), sq, Verify{Port: freePort(t), Timeout: time.Second, Retries: 2})
	if !errors.Is(err, ErrNotOpened) {
		t.Fatalf("err %v, want ErrNotOpened", err)
	}
	if res.Rounds != 3 || res.Verified {
		t.Fatalf("result %+v: want 3 unverified rounds", res)
	}
}
