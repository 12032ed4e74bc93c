package otp

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/a-knock/knock/internal/seq"
)

// vectorSecret is the secret of the test vectors: bytes 0x00..0x1f.
func vectorSecret() []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = byte(i)
	}
	return k
}

// TestOTPVectors pins the derivation. The expected lines were computed by an
// independent implementation of docs/otp.md's description (its Python
// reference, which the docs test runs), so a change here is a change of
// the wire format: it breaks every server file in use and needs a new
// Label.
func TestOTPVectors(t *testing.T) {
	tests := []struct {
		counter uint64
		p       Params
		want    string
	}{
		{0, Params{4, 10000, 60000, ModeTCP}, " 59777:tcp,15597:tcp,46726:tcp,55056:tcp"},
		{1, Params{4, 10000, 60000, ModeTCP}, " 14100:tcp,13064:tcp,36586:tcp,37306:tcp"},
		{2, Params{4, 10000, 60000, ""}, " 53337:tcp,18635:tcp,31957:tcp,10745:tcp"},
		{1000, Params{4, 10000, 60000, ModeTCP}, " 38172:tcp,57695:tcp,24960:tcp,15392:tcp"},
		{0, Params{8, 10000, 60000, ModeMixed}, " 59777:udp,15597:tcp,46726:tcp,55056:tcp,25832:udp,42347:tcp,48816:tcp,28187:udp"},
		{7, Params{16, 7000, 7015, ModeMixed}, " 7008:udp,7007:tcp,7003:udp,7005:tcp,7002:udp,7009:tcp,7010:udp,7014:tcp,7006:tcp,7004:tcp,7011:udp,7012:udp,7001:udp,7000:udp,7015:udp,7013:udp"},
		{3, Params{5, 40000, 40031, ModeUDP}, " 40027:udp,40012:udp,40009:udp,40025:udp,40004:udp"},
		{math.MaxUint64, Params{32, 1, 65535, ModeMixed}, " 48457:udp,28780:tcp,24855:tcp,21019:tcp,45593:tcp,31800:tcp,14826:udp,50803:udp,60424:udp,55532:udp,12298:tcp,37342:udp,48542:tcp,59413:tcp,8339:udp,64422:udp,36791:udp,31294:tcp,12075:udp,8740:udp,4489:tcp,48707:tcp,3702:tcp,55135:tcp,21649:tcp,56177:tcp,5258:udp,62251:tcp,11526:tcp,47761:tcp,15148:udp,37374:tcp"},
	}
	for _, tt := range tests {
		s, err := Sequence(vectorSecret(), tt.counter, tt.p)
		if err != nil {
			t.Fatalf("Sequence(%d, %+v): %v", tt.counter, tt.p, err)
		}
		if got := ServerLine(s); got != tt.want {
			t.Errorf("Sequence(%d, %+v)\n got %q\nwant %q", tt.counter, tt.p, got, tt.want)
		}
	}
}

func TestOTPWriteServerFile(t *testing.T) {
	var b bytes.Buffer
	if err := WriteServerFile(&b, vectorSecret(), DefaultParams(), 1, 2); err != nil {
		t.Fatal(err)
	}
	want := " 14100:tcp,13064:tcp,36586:tcp,37306:tcp\n 53337:tcp,18635:tcp,31957:tcp,10745:tcp\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
	// Every line parses back with knockd's syntax to the same sequence.
	for i, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		s, err := seq.Parse(seq.TCP, strings.TrimSpace(line))
		if err != nil {
			t.Fatalf("line %d %q: %v", i, line, err)
		}
		d, _ := Sequence(vectorSecret(), uint64(1+i), DefaultParams())
		if s.String() != d.String() {
			t.Errorf("line %d parses to %s, want %s", i, s, d)
		}
	}
	if err := WriteServerFile(&b, vectorSecret(), DefaultParams(), math.MaxUint64, 2); !errors.Is(err, ErrParams) {
		t.Errorf("overflowing range: err = %v, want ErrParams", err)
	}
}

func TestOTPInvalid(t *testing.T) {
	k := vectorSecret()
	for _, p := range []Params{
		{0, 10000, 60000, ModeTCP},
		{33, 10000, 60000, ModeTCP},
		{4, 0, 60000, ModeTCP},
		{4, 7000, 6999, ModeTCP},
		{4, 7000, 7002, ModeTCP}, // 3 ports for 4 distinct knocks
		{4, 10000, 60000, "sctp"},
	} {
		if _, err := Sequence(k, 0, p); !errors.Is(err, ErrParams) {
			t.Errorf("Sequence(%+v): err = %v, want ErrParams", p, err)
		}
	}
	if _, err := Sequence(k[:15], 0, DefaultParams()); !errors.Is(err, ErrSecret) {
		t.Errorf("short secret: err = %v, want ErrSecret", err)
	}
	// The error text never carries the secret.
	_, err := Sequence(k[:15], 0, DefaultParams())
	if strings.Contains(err.Error(), string(k[:15])) {
		t.Error("error text contains the secret")
	}
}

func TestOTPParsePortRange(t *testing.T) {
	tests := []struct {
		in     string
		lo, hi uint16
		ok     bool
	}{
		{"10000-60000", 10000, 60000, true},
		{" 1-65535 ", 1, 65535, true},
		{"7000", 7000, 7000, true},
		{"7000-7000", 7000, 7000, true},
		{"7001-7000", 0, 0, false},
		{"0-10", 0, 0, false},
		{"1-65536", 0, 0, false},
		{"a-b", 0, 0, false},
		{"", 0, 0, false},
		{"-5", 0, 0, false},
		{"5-", 0, 0, false},
	}
	for _, tt := range tests {
		lo, hi, err := ParsePortRange(tt.in)
		if (err == nil) != tt.ok || lo != tt.lo || hi != tt.hi {
			t.Errorf("ParsePortRange(%q) = %d, %d, %v", tt.in, lo, hi, err)
		}
		if err == nil {
			if lo2, hi2, err := ParsePortRange(FormatPortRange(lo, hi)); err != nil || lo2 != lo || hi2 != hi {
				t.Errorf("round trip of %q: %d, %d, %v", tt.in, lo2, hi2, err)
			}
		}
	}
}

func TestOTPParseMode(t *testing.T) {
	for in, want := range map[string]Mode{"": ModeTCP, "TCP": ModeTCP, "udp": ModeUDP, " Mixed ": ModeMixed} {
		if m, err := ParseMode(in); err != nil || m != want {
			t.Errorf("ParseMode(%q) = %q, %v", in, m, err)
		}
	}
	if _, err := ParseMode("icmp"); err == nil {
		t.Error("ParseMode(icmp) succeeded")
	}
}

// TestOTPSpread checks that the ports of many sequences cover the range
// evenly: each tenth of the range gets close to a tenth of the ports.
func TestOTPSpread(t *testing.T) {
	p := DefaultParams()
	const n = 2000
	var buckets [10]int
	span := int(p.PortHi) - int(p.PortLo) + 1
	for i := uint64(0); i < n; i++ {
		s, err := Sequence(vectorSecret(), i, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range s {
			buckets[(int(k.Port)-int(p.PortLo))*10/span]++
		}
	}
	// 800 expected per bucket, standard deviation about 27.
	for i, c := range buckets {
		if c < 650 || c > 950 {
			t.Errorf("bucket %d has %d of %d ports: %v", i, c, n*p.Length, buckets)
		}
	}
}

// checkSequence checks the properties every sequence has.
func checkSequence(t *testing.T, s seq.Sequence, p Params) {
	t.Helper()
	if len(s) != p.Length {
		t.Fatalf("%d knocks, want %d", len(s), p.Length)
	}
	seen := map[uint16]bool{}
	for _, k := range s {
		if k.Port < p.PortLo || k.Port > p.PortHi {
			t.Fatalf("port %d outside %d-%d", k.Port, p.PortLo, p.PortHi)
		}
		if seen[k.Port] {
			t.Fatalf("port %d repeated in %s", k.Port, s)
		}
		seen[k.Port] = true
		switch p.Mode {
		case ModeTCP, "":
			if k.Proto != seq.TCP {
				t.Fatalf("udp knock in tcp mode: %s", s)
			}
		case ModeUDP:
			if k.Proto != seq.UDP {
				t.Fatalf("tcp knock in udp mode: %s", s)
			}
		}
	}
}

func FuzzOTPSequence(f *testing.F) {
	f.Add(vectorSecret(), uint64(0), 4, uint16(10000), uint16(60000), uint8(0))
	f.Add(vectorSecret(), uint64(math.MaxUint64), 32, uint16(1), uint16(65535), uint8(2))
	f.Add([]byte("0123456789abcdef"), uint64(7), 32, uint16(7000), uint16(7031), uint8(1))
	f.Add([]byte("short"), uint64(1), 1, uint16(65535), uint16(65535), uint8(2))
	modes := []Mode{ModeTCP, ModeUDP, ModeMixed, ""}
	f.Fuzz(func(t *testing.T, secret []byte, counter uint64, length int, lo, hi uint16, mode uint8) {
		p := Params{Length: length, PortLo: lo, PortHi: hi, Mode: modes[int(mode)%len(modes)]}
		s, err := Sequence(secret, counter, p)
		if err != nil {
			if !errors.Is(err, ErrParams) && !errors.Is(err, ErrSecret) {
				t.Fatalf("unexpected error %v", err)
			}
			if p.Validate() == nil && len(secret) >= MinSecretSize {
				t.Fatalf("valid input rejected: %v", err)
			}
			return
		}
		checkSequence(t, s, p)
		again, err := Sequence(secret, counter, p)
		if err != nil || again.String() != s.String() {
			t.Fatalf("not deterministic: %s then %s (%v)", s, again, err)
		}
		back, err := seq.Parse(seq.TCP, strings.TrimSpace(ServerLine(s)))
		if err != nil || back.String() != s.String() {
			t.Fatalf("server line %q parses to %s, %v", ServerLine(s), back, err)
		}
	})
}

func FuzzOTPPortRange(f *testing.F) {
	for _, s := range []string{"10000-60000", "7000", "1-65535", "5-4", "-", "", "0-0", "65536", " 1 - 2 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lo, hi, err := ParsePortRange(s)
		if err != nil {
			return
		}
		if lo < 1 || hi < lo {
			t.Fatalf("ParsePortRange(%q) = %d, %d", s, lo, hi)
		}
		lo2, hi2, err := ParsePortRange(FormatPortRange(lo, hi))
		if err != nil || lo2 != lo || hi2 != hi {
			t.Fatalf("round trip of %q: %d, %d, %v", s, lo2, hi2, err)
		}
	})
}
