package seq

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		def   Proto
		words []string
		want  string
		err   string
	}{
		{"comma list", TCP, []string{"7000,8000,9000"}, "7000:tcp,8000:tcp,9000:tcp", ""},
		{"words", TCP, []string{"7000", "8000", "9000"}, "7000:tcp,8000:tcp,9000:tcp", ""},
		{"mixed protocols", TCP, []string{"7000,8000:udp,9000"}, "7000:tcp,8000:udp,9000:tcp", ""},
		{"udp default", UDP, []string{"7000", "8000:tcp"}, "7000:udp,8000:tcp", ""},
		{"upper case proto", TCP, []string{"7000:UDP"}, "7000:udp", ""},
		{"spaces", TCP, []string{" 7000 , 8000 "}, "7000:tcp,8000:tcp", ""},
		{"mixed words and lists", TCP, []string{"1,2", "3:udp"}, "1:tcp,2:tcp,3:udp", ""},
		{"port 65535", TCP, []string{"65535"}, "65535:tcp", ""},
		{"port zero", TCP, []string{"0"}, "", `invalid port "0"`},
		{"port too big", TCP, []string{"70000"}, "", `invalid port "70000"`},
		{"negative", TCP, []string{"-1"}, "", `invalid port "-1"`},
		{"not a number", TCP, []string{"ssh"}, "", `invalid port "ssh"`},
		{"bad proto", TCP, []string{"7000:icmp"}, "", `invalid protocol "icmp"`},
		{"empty item", TCP, []string{"7000,,8000"}, "", "empty knock"},
		{"empty", TCP, []string{""}, "", "empty knock"},
		{"nothing", TCP, nil, "", "empty knock sequence"},
		{"too long", TCP, []string{strings.Repeat("1,", 32) + "1"}, "", "33 knocks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.def, tt.words...)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Parse(%q) error = %v, want %q", tt.words, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.words, err)
			}
			if got.String() != tt.want {
				t.Errorf("Parse(%q) = %s, want %s", tt.words, got, tt.want)
			}
		})
	}
}

func TestParseMax(t *testing.T) {
	s, err := Parse(TCP, strings.TrimSuffix(strings.Repeat("1000,", MaxKnocks), ","))
	if err != nil || len(s) != MaxKnocks {
		t.Fatalf("32 knocks: %v, %d", err, len(s))
	}
}

func TestReverse(t *testing.T) {
	s, _ := Parse(TCP, "1,2:udp,3")
	if got := s.Reverse().String(); got != "3:tcp,2:udp,1:tcp" {
		t.Fatalf("Reverse = %s", got)
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		in       string
		want     string
		packet   uint8
		needsRaw bool
		err      string
	}{
		{"", "", SYN, false, ""},
		{"syn", "syn", SYN, false, ""},
		{"SYN", "syn", SYN, false, ""},
		{"syn,!ack", "syn,!ack", SYN, false, ""},
		{"fin,!ack", "fin,!ack", FIN, true, ""},
		{"syn,ack", "syn,ack", SYN | ACK, true, ""},
		{" fin , ! ack ", "fin,!ack", FIN, true, ""},
		{"!syn", "!syn", 0, true, ""},
		{"fin,psh,urg", "fin,psh,urg", FIN | PSH | URG, true, ""},
		{"rst", "rst", RST, true, ""},
		{"syn,!syn", "", 0, false, "both required and forbidden"},
		{"foo", "", 0, false, `unknown TCP flag "foo"`},
		{"syn,", "", 0, false, `unknown TCP flag ""`},
	}
	for _, tt := range tests {
		f, err := ParseFlags(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseFlags(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseFlags(%q): %v", tt.in, err)
			continue
		}
		if f.String() != tt.want || f.Packet() != tt.packet || f.NeedsRaw() != tt.needsRaw {
			t.Errorf("ParseFlags(%q) = %q packet %s raw %v; want %q %s %v", tt.in,
				f, FlagString(f.Packet()), f.NeedsRaw(), tt.want, FlagString(tt.packet), tt.needsRaw)
		}
		if !f.Match(f.Packet()) && f.Set != 0 {
			t.Errorf("ParseFlags(%q): its own packet %s does not match", tt.in, FlagString(f.Packet()))
		}
	}
}

func TestFlagsMatch(t *testing.T) {
	f, _ := ParseFlags("fin,!ack")
	for _, c := range []struct {
		b    uint8
		want bool
	}{{FIN, true}, {FIN | PSH, true}, {FIN | ACK, false}, {SYN, false}, {0, false}} {
		if f.Match(c.b) != c.want {
			t.Errorf("fin,!ack match %s = %v", FlagString(c.b), !c.want)
		}
	}
	if !(Flags{}).Match(RST|ACK) || !(Flags{}).IsZero() {
		t.Error("zero Flags must match everything")
	}
}

func TestLooksLikeKnock(t *testing.T) {
	for w, want := range map[string]bool{
		"7000": true, "7000:udp": true, "7000,8000": true,
		"myserver": false, "198.51.100.2": false, "2001:db8::2": false, "": false,
	} {
		if LooksLikeKnock(w) != want {
			t.Errorf("LooksLikeKnock(%q) = %v", w, !want)
		}
	}
}

// FuzzParse checks that the sequence parser never panics, and that
// whatever it accepts formats back to something that parses the same.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"7000,8000,9000", "7000:udp", "1,2:tcp,3:UDP", "65535", "0", "70000", ",", "7000:", ":udp", "1:tcp:udp"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := Parse(TCP, in)
		if err != nil {
			return
		}
		if len(s) == 0 || len(s) > MaxKnocks {
			t.Fatalf("Parse(%q) accepted %d knocks", in, len(s))
		}
		again, err := Parse(UDP, s.String())
		if err != nil || again.String() != s.String() {
			t.Fatalf("round trip of %q: %q, %v", in, again, err)
		}
	})
}

// FuzzParseFlags checks the TCPFlags parser the same way.
func FuzzParseFlags(f *testing.F) {
	for _, s := range []string{"syn", "fin,!ack", "syn,ack", "!syn", "", "foo", "syn,!syn"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		fl, err := ParseFlags(in)
		if err != nil {
			return
		}
		again, err := ParseFlags(fl.String())
		if err != nil || again != fl {
			t.Fatalf("round trip of %q: %v %v", in, again, err)
		}
		if fl.Set != 0 && !fl.Match(fl.Packet()) {
			t.Fatalf("%q: packet %x does not match", in, fl.Packet())
		}
	})
}
