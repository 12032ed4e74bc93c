package seq

import "testing"

// Sequence parsing is on the start-up path of every `knock HOST PORT...`:
// these benchmarks keep it far below the process start-up (about 1 ms).

func BenchmarkParseWords(b *testing.B) {
	words := []string{"7000", "8000:udp", "9000"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(TCP, words...); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseCommaList(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(TCP, "7000:tcp,8000:udp,9000:tcp,10000,11000:udp"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseMax parses the longest sequence knockd accepts.
func BenchmarkParseMax(b *testing.B) {
	s := ""
	for i := 0; i < MaxKnocks; i++ {
		if i > 0 {
			s += ","
		}
		s += "6553" + string(rune('0'+i%6)) + ":udp"
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(TCP, s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseFlags(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseFlags("fin,!ack,!syn,psh"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSequenceString(b *testing.B) {
	sq, err := Parse(TCP, "7000,8000:udp,9000")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = sq.String()
	}
}
