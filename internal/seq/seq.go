// Package seq parses and formats knock sequences and TCP flag sets in the
// syntax of knockd's configuration file, so that a user can paste the
// server's lines into the client unchanged.
//
// A sequence is a list of knocks, each a port and a protocol:
// "7000,8000:udp,9000" or, as separate command-line words, "7000 8000:udp".
// The default protocol is tcp unless the caller says otherwise, exactly as
// with knockd's own client and its -u flag.
package seq

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MaxKnocks is the longest sequence knockd accepts (its MAX_SEQ).
const MaxKnocks = 32

// Proto is the transport protocol of one knock.
type Proto uint8

// The protocols a knock can use.
const (
	TCP Proto = iota
	UDP
)

// String returns "tcp" or "udp".
func (p Proto) String() string {
	if p == UDP {
		return "udp"
	}
	return "tcp"
}

// ParseProto parses "tcp" or "udp", in any case.
func ParseProto(s string) (Proto, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "tcp":
		return TCP, nil
	case "udp":
		return UDP, nil
	}
	return TCP, fmt.Errorf("invalid protocol %q (want tcp or udp)", s)
}

// Knock is one packet of a sequence.
type Knock struct {
	Port  uint16
	Proto Proto
}

// String formats the knock as knockd does, "7000:tcp".
func (k Knock) String() string {
	return strconv.Itoa(int(k.Port)) + ":" + k.Proto.String()
}

// Sequence is an ordered list of knocks.
type Sequence []Knock

// String formats the sequence in knockd syntax, "7000:tcp,8000:udp".
func (s Sequence) String() string {
	parts := make([]string, len(s))
	for i, k := range s {
		parts[i] = k.String()
	}
	return strings.Join(parts, ",")
}

// Reverse returns the knocks in reverse order, the customary close sequence.
func (s Sequence) Reverse() Sequence {
	r := make(Sequence, len(s))
	for i, k := range s {
		r[len(s)-1-i] = k
	}
	return r
}

// ErrEmpty is returned for a sequence without any knock.
var ErrEmpty = errors.New("empty knock sequence")

// Parse parses a sequence given as one or more words, each of which may hold
// a comma-separated list, so that both "7000,8000:udp" and the words
// "7000" "8000:udp" are accepted. Knocks without a protocol get def.
func Parse(def Proto, words ...string) (Sequence, error) {
	var s Sequence
	for _, w := range words {
		for _, item := range strings.Split(w, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				if strings.TrimSpace(w) == "" && len(words) > 1 {
					continue
				}
				return nil, fmt.Errorf("empty knock in %q", w)
			}
			k, err := ParseKnock(item, def)
			if err != nil {
				return nil, err
			}
			s = append(s, k)
		}
	}
	if len(s) == 0 {
		return nil, ErrEmpty
	}
	if len(s) > MaxKnocks {
		return nil, fmt.Errorf("sequence has %d knocks; knockd accepts at most %d", len(s), MaxKnocks)
	}
	return s, nil
}

// ParseKnock parses one "port[:proto]" item.
func ParseKnock(item string, def Proto) (Knock, error) {
	port, proto, hasProto := strings.Cut(item, ":")
	k := Knock{Proto: def}
	p, err := ParsePort(port)
	if err != nil {
		return k, err
	}
	k.Port = p
	if hasProto {
		if k.Proto, err = ParseProto(proto); err != nil {
			return k, fmt.Errorf("knock %q: %w", item, err)
		}
	}
	return k, nil
}

// ParsePort parses a port number in 1..65535.
func ParsePort(s string) (uint16, error) {
	s = strings.TrimSpace(s)
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("invalid port %q (want 1..65535)", s)
	}
	return uint16(n), nil
}

// LooksLikeKnock reports whether word is a port list such as "7000" or
// "7000:udp,8000", as opposed to a host or profile name. It is what tells
// `knock NAME` from `knock HOST PORT`.
func LooksLikeKnock(word string) bool {
	if word == "" {
		return false
	}
	c := word[0]
	return c >= '0' && c <= '9' && !strings.ContainsAny(word, ".") &&
		!strings.Contains(strings.ToLower(word), "::")
}
