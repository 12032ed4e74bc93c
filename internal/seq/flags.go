package seq

import (
	"fmt"
	"strings"
)

// TCP header flag bits, in wire order.
const (
	FIN uint8 = 1 << iota
	SYN
	RST
	PSH
	ACK
	URG
)

var flagNames = []struct {
	name string
	bit  uint8
}{
	{"fin", FIN}, {"syn", SYN}, {"rst", RST}, {"psh", PSH}, {"ack", ACK}, {"urg", URG},
}

// Flags is a TCPFlags condition as knockd writes it: flags that must be set
// and flags that must be clear ("fin,!ack"). Flags named in neither are
// "don't care". The zero value matches every TCP packet.
type Flags struct {
	Set   uint8
	Unset uint8
}

// ParseFlags parses knockd's TCPFlags syntax: a comma list of
// fin, syn, rst, psh, ack and urg, each optionally negated with "!".
// Case and spaces are ignored. An empty string gives the zero Flags.
func ParseFlags(s string) (Flags, error) {
	var f Flags
	if strings.TrimSpace(s) == "" {
		return f, nil
	}
	for _, item := range strings.Split(s, ",") {
		name := strings.ToLower(strings.TrimSpace(item))
		neg := strings.HasPrefix(name, "!")
		name = strings.TrimSpace(strings.TrimPrefix(name, "!"))
		bit := uint8(0)
		for _, fn := range flagNames {
			if fn.name == name {
				bit = fn.bit
			}
		}
		if bit == 0 {
			return Flags{}, fmt.Errorf("unknown TCP flag %q in %q (want fin, syn, rst, psh, ack, urg, each optionally with !)", strings.TrimSpace(item), s)
		}
		if neg {
			f.Unset |= bit
		} else {
			f.Set |= bit
		}
		if f.Set&f.Unset != 0 {
			return Flags{}, fmt.Errorf("TCP flag %q is both required and forbidden in %q", name, s)
		}
	}
	return f, nil
}

// IsZero reports whether f places no condition on a packet.
func (f Flags) IsZero() bool { return f.Set == 0 && f.Unset == 0 }

// Match reports whether a packet carrying the flag byte b satisfies f.
func (f Flags) Match(b uint8) bool {
	return b&f.Set == f.Set && b&f.Unset == 0
}

// Packet returns the flag byte a client puts on the wire to satisfy f: the
// required flags, or a plain SYN when f requires none and allows SYN.
func (f Flags) Packet() uint8 {
	if f.Set != 0 {
		return f.Set
	}
	if f.Unset&SYN == 0 {
		return SYN
	}
	return 0
}

// NeedsRaw reports whether satisfying f takes a hand-made packet: a plain
// connect() sends exactly SYN, so anything that a SYN does not match does.
func (f Flags) NeedsRaw() bool {
	return !f.Match(SYN)
}

// String formats f in knockd syntax, "fin,!ack"; the zero value is "".
func (f Flags) String() string {
	var parts []string
	for _, fn := range flagNames {
		switch {
		case f.Set&fn.bit != 0:
			parts = append(parts, fn.name)
		case f.Unset&fn.bit != 0:
			parts = append(parts, "!"+fn.name)
		}
	}
	return strings.Join(parts, ",")
}

// FlagString names the flags set in a packet's flag byte, "syn,ack".
func FlagString(b uint8) string {
	var parts []string
	for _, fn := range flagNames {
		if b&fn.bit != 0 {
			parts = append(parts, fn.name)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ",")
}
