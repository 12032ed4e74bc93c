package sender

import (
	"testing"

	"github.com/a-knock/knock/internal/seq"
)

func TestResetCopies(t *testing.T) {
	for _, c := range []struct {
		in     string
		reset  string
		copies int
	}{
		// An attempt that expects the reset knock absorbs one copy, the
		// next kills it; three spares against loss.
		{"7000,8000,9000", "8000:tcp", 5},
		// 8000 is expected twice in a row from stage 1.
		{"7000,8000,8000,9000", "8000:tcp", 6},
		{"1,2,3,4,5", "3:tcp", 5},
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

func TestReplay(t *testing.T) {
	for in, want := range map[string]string{
		"7000,8000,9000": "8000:tcp,8000:tcp,8000:tcp,8000:tcp,8000:tcp,7000:tcp,8000:tcp,9000:tcp",
		"7000,8000":      "7000:tcp,8000:tcp",
		"1,2:udp,3":      "2:udp,2:udp,2:udp,2:udp,2:udp,1:tcp,2:udp,3:tcp",
	} {
		sq, _ := seq.Parse(seq.TCP, in)
		if got := Replay(sq).String(); got != want {
			t.Errorf("Replay(%s) = %s, want %s", in, got, want)
		}
	}
}
