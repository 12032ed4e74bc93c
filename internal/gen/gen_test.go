package gen

import (
	"bytes"
	"errors"
	"testing"

	"github.com/a-knock/knock/internal/seq"
)

func TestSequenceProperties(t *testing.T) {
	draws := 2000
	if testing.Short() {
		draws = 200
	}
	for _, proto := range []string{"tcp", "udp", "mixed"} {
		for _, length := range []int{MinLength, DefaultLength, 7, MaxLength} {
			for i := 0; i < draws/4; i++ {
				s, err := Sequence(length, proto)
				if err != nil {
					t.Fatalf("Sequence(%d, %s): %v", length, proto, err)
				}
				checkGenerated(t, s, length, proto)
			}
		}
	}
}

func checkGenerated(t *testing.T, s seq.Sequence, length int, proto string) {
	t.Helper()
	if len(s) != length {
		t.Fatalf("%s: %d knocks, want %d", s, len(s), length)
	}
	seen := map[uint16]bool{}
	var tcp, udp int
	for _, k := range s {
		if k.Port < 1024 {
			t.Fatalf("%s: privileged port %d", s, k.Port)
		}
		for _, bad := range []uint16{7000, 8000, 9000, 1194, 3389, 5900, 8080, 8443, 6000, 11111} {
			if k.Port == bad {
				t.Fatalf("%s: well-known port %d", s, k.Port)
			}
		}
		if Avoided(k.Port) {
			t.Fatalf("%s: avoided port %d", s, k.Port)
		}
		if seen[k.Port] {
			t.Fatalf("%s: port %d repeats", s, k.Port)
		}
		seen[k.Port] = true
		if k.Proto == seq.UDP {
			udp++
		} else {
			tcp++
		}
	}
	if i := MonotonicRun(s); i >= 0 {
		t.Fatalf("%s: monotonic run ending at knock %d", s, i+1)
	}
	if i := MonotonicRun(s.Reverse()); i >= 0 {
		t.Fatalf("close %s: monotonic run", s.Reverse())
	}
	if w := Weakness(s); w != "" {
		t.Fatalf("%s: generated sequence judged weak: %s", s, w)
	}
	switch proto {
	case "tcp":
		if udp != 0 {
			t.Fatalf("%s: udp knock in a tcp sequence", s)
		}
	case "udp":
		if tcp != 0 {
			t.Fatalf("%s: tcp knock in a udp sequence", s)
		}
	case "mixed":
		if tcp == 0 || udp == 0 {
			t.Fatalf("%s: mixed sequence with one protocol only", s)
		}
	}
	// The close sequence must differ from the open one and parse back.
	if s.Reverse().String() == s.String() {
		t.Fatalf("%s: close sequence equals open", s)
	}
	back, err := seq.Parse(seq.TCP, s.String())
	if err != nil || back.String() != s.String() {
		t.Fatalf("%s does not round-trip: %v", s, err)
	}
}

// TestSequenceSpread checks that draws are not stuck: over many draws the
// first port takes many values across the whole range.
func TestSequenceSpread(t *testing.T) {
	seen := map[uint16]bool{}
	var low, high bool
	for i := 0; i < 300; i++ {
		s, err := Sequence(3, "tcp")
		if err != nil {
			t.Fatal(err)
		}
		seen[s[0].Port] = true
		low = low || s[0].Port < 20000
		high = high || s[0].Port > 45000
	}
	if len(seen) < 250 || !low || !high {
		t.Fatalf("poor spread: %d distinct first ports, low %v, high %v", len(seen), low, high)
	}
}

func TestSequenceErrors(t *testing.T) {
	for _, n := range []int{-1, 0, 2, 33} {
		if _, err := Sequence(n, "tcp"); !errors.Is(err, ErrLength) {
			t.Errorf("Sequence(%d): err %v, want ErrLength", n, err)
		}
	}
	if _, err := Sequence(4, "sctp"); err == nil {
		t.Error("Sequence(4, sctp): no error")
	}
	old := randReader
	defer func() { randReader = old }()
	randReader = bytes.NewReader(nil)
	if _, err := Sequence(4, "tcp"); err == nil {
		t.Error("empty random source: no error")
	}
	// A source stuck on one value cannot make a sequence without repeats.
	randReader = zeroReader{}
	if _, err := Sequence(4, "tcp"); err == nil {
		t.Error("constant random source: no error")
	}
}

type zeroReader struct{}

func (zeroReader) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = 0
	}
	return len(b), nil
}

func TestWeakness(t *testing.T) {
	for _, tc := range []struct {
		in   string
		weak bool
	}{
		{"7000,8000,9000", true},
		{"9000,8000,7000", true},
		{"7000:udp,8000,9000:udp", true},
		{"2222:udp,3333:tcp,4444:udp", true},
		{"30123,45211,60010", true},
		{"1000,2000,3000", true},
		{"41234,41234,52345", true},
		{"22,80,443", true},
		{"31415,27182,44321", false},
		{"17263,48121,29345,50012", false},
	} {
		s, err := seq.Parse(seq.TCP, tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if w := Weakness(s); (w != "") != tc.weak {
			t.Errorf("Weakness(%s) = %q, want weak=%v", tc.in, w, tc.weak)
		}
	}
}

func TestMonotonicRun(t *testing.T) {
	for in, want := range map[string]int{
		"2000,3000,4000":      2,
		"4000,3000,2000":      2,
		"2000,3000,2500,2600": -1,
		"2000,3000,2500,2400": 3,
		"2000,3000":           -1,
		"5000,3000,4000,1000": -1,
	} {
		s, _ := seq.Parse(seq.TCP, in)
		if got := MonotonicRun(s); got != want {
			t.Errorf("MonotonicRun(%s) = %d, want %d", in, got, want)
		}
	}
}
