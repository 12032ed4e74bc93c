// Package otp derives one-time knock sequences from a secret and a
// counter, for knockd's `one_time_sequences` files: the server's file holds
// sequences 0, 1, 2 ... (one a line, each used once, in order) and the
// client plays sequence `counter` and then moves on to the next one.
//
// # Derivation (version 1)
//
// Sequence i of a secret K is drawn from the byte stream
//
//	S(K, i) = B(0) || B(1) || B(2) || ...
//	B(j)    = HMAC-SHA256(K, "knock-otp-v1" || uint64be(i) || uint32be(j))
//
// (HOTP-style: HMAC of a big-endian counter, in counter mode for as many
// bytes as needed). The stream is read front to back, for each knock in
// turn:
//
//  1. Port: read two bytes as a big-endian v in 0..65535. With
//     span = hi-lo+1, reject v when v >= 65536 - 65536%span (no modulo
//     bias); otherwise port = lo + v%span, rejected when an earlier knock
//     of the sequence already has it. Read two more bytes after a
//     rejection.
//  2. Protocol: read one byte b. Mode "tcp" gives tcp, "udp" gives udp,
//     "mixed" gives udp when b&1 == 1, else tcp. The byte is read in every
//     mode, so the ports do not depend on the mode.
//
// The server file line for a sequence is a space followed by knockd's
// sequence syntax, " 40212:tcp,13771:udp,...": knockd overwrites the
// first character of a used line with '#', which then lands on the space.
package otp

import (
	"bufio"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"

	"github.com/a-knock/knock/internal/seq"
)

// Label is the domain-separation prefix of every HMAC input; it names the
// derivation's version.
const Label = "knock-otp-v1"

// Defaults for new OTP profiles.
const (
	DefaultLength = 4
	DefaultPortLo = 10000
	DefaultPortHi = 60000
	DefaultMode   = ModeTCP
	SecretSize    = 32 // bytes of a new secret
	MinSecretSize = 16 // shortest secret accepted
)

// Mode says which protocol the knocks of a sequence use.
type Mode string

// The protocol modes.
const (
	ModeTCP   Mode = "tcp"
	ModeUDP   Mode = "udp"
	ModeMixed Mode = "mixed"
)

// ParseMode parses "tcp", "udp" or "mixed", in any case; "" is tcp.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(strings.ToLower(strings.TrimSpace(s))); m {
	case "":
		return ModeTCP, nil
	case ModeTCP, ModeUDP, ModeMixed:
		return m, nil
	}
	return "", fmt.Errorf("invalid protocol %q (want tcp, udp or mixed)", s)
}

// Errors returned by this package.
var (
	// ErrParams is wrapped by every error about invalid parameters.
	ErrParams = errors.New("invalid one-time sequence parameters")
	// ErrSecret is returned for a missing or too short secret.
	ErrSecret = errors.New("one-time sequence secret missing or shorter than 16 bytes")
	// ErrExhausted is returned in the (never observed) case that the
	// bounded stream runs out before the sequence is complete.
	ErrExhausted = errors.New("one-time sequence stream exhausted")
)

// Params are the shape of the sequences: how many knocks, which ports and
// which protocols.
type Params struct {
	Length int    // knocks per sequence, 1..seq.MaxKnocks
	PortLo uint16 // lowest port, >= 1
	PortHi uint16 // highest port, >= PortLo
	Mode   Mode   // tcp, udp or mixed; "" means tcp
}

// DefaultParams returns the parameters of a new profile.
func DefaultParams() Params {
	return Params{Length: DefaultLength, PortLo: DefaultPortLo, PortHi: DefaultPortHi, Mode: DefaultMode}
}

// Validate checks p.
func (p Params) Validate() error {
	if p.Length < 1 || p.Length > seq.MaxKnocks {
		return fmt.Errorf("%w: length %d (want 1..%d)", ErrParams, p.Length, seq.MaxKnocks)
	}
	if p.PortLo < 1 || p.PortHi < p.PortLo {
		return fmt.Errorf("%w: port range %d-%d (want 1 <= LO <= HI <= 65535)", ErrParams, p.PortLo, p.PortHi)
	}
	if span := int(p.PortHi) - int(p.PortLo) + 1; span < p.Length {
		return fmt.Errorf("%w: port range %d-%d has %d ports, fewer than the %d distinct knocks of a sequence", ErrParams, p.PortLo, p.PortHi, span, p.Length)
	}
	if _, err := ParseMode(string(p.Mode)); err != nil {
		return fmt.Errorf("%w: %v", ErrParams, err)
	}
	return nil
}

// ParsePortRange parses "LO-HI" (or a single port "P", meaning P-P).
func ParsePortRange(s string) (lo, hi uint16, err error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		b = a
	}
	if lo, err = seq.ParsePort(a); err != nil {
		return 0, 0, fmt.Errorf("port range %q: %w", s, err)
	}
	if hi, err = seq.ParsePort(b); err != nil {
		return 0, 0, fmt.Errorf("port range %q: %w", s, err)
	}
	if hi < lo {
		return 0, 0, fmt.Errorf("port range %q: %d is above %d", s, lo, hi)
	}
	return lo, hi, nil
}

// FormatPortRange formats a range as ParsePortRange reads it, "LO-HI".
func FormatPortRange(lo, hi uint16) string {
	return strconv.Itoa(int(lo)) + "-" + strconv.Itoa(int(hi))
}

// NewSecret returns SecretSize random bytes.
func NewSecret() ([]byte, error) {
	b := make([]byte, SecretSize)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("random secret: %w", err)
	}
	return b, nil
}

// maxBlocks bounds the stream: 4096 HMAC blocks are 65536 port draws,
// where a sequence of 32 knocks needs about 130 in the worst case.
const maxBlocks = 4096

// stream is S(K, i), read front to back.
type stream struct {
	mac     hash.Hash
	counter uint64
	block   uint32
	buf     []byte
}

func newStream(secret []byte, counter uint64) *stream {
	return &stream{mac: hmac.New(sha256.New, secret), counter: counter}
}

func (s *stream) next(n int) ([]byte, error) {
	for len(s.buf) < n {
		if s.block >= maxBlocks {
			return nil, ErrExhausted
		}
		var in [len(Label) + 8 + 4]byte
		copy(in[:], Label)
		binary.BigEndian.PutUint64(in[len(Label):], s.counter)
		binary.BigEndian.PutUint32(in[len(Label)+8:], s.block)
		s.mac.Reset()
		s.mac.Write(in[:])
		s.buf = s.mac.Sum(s.buf)
		s.block++
	}
	b := s.buf[:n:n]
	s.buf = s.buf[n:]
	return b, nil
}

// Sequence derives sequence number counter from secret, as described in
// the package documentation.
func Sequence(secret []byte, counter uint64, p Params) (seq.Sequence, error) {
	if len(secret) < MinSecretSize {
		return nil, ErrSecret
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	mode, _ := ParseMode(string(p.Mode))
	span := uint32(p.PortHi) - uint32(p.PortLo) + 1
	limit := 65536 - 65536%span
	st := newStream(secret, counter)
	out := make(seq.Sequence, 0, p.Length)
	used := make(map[uint16]bool, p.Length)
	for len(out) < p.Length {
		var port uint16
		for port == 0 {
			b, err := st.next(2)
			if err != nil {
				return nil, fmt.Errorf("sequence %d: %w", counter, err)
			}
			v := uint32(binary.BigEndian.Uint16(b))
			if v >= limit {
				continue
			}
			if c := uint16(uint32(p.PortLo) + v%span); !used[c] {
				port = c
			}
		}
		used[port] = true
		b, err := st.next(1)
		if err != nil {
			return nil, fmt.Errorf("sequence %d: %w", counter, err)
		}
		proto := seq.TCP
		if mode == ModeUDP || (mode == ModeMixed && b[0]&1 == 1) {
			proto = seq.UDP
		}
		out = append(out, seq.Knock{Port: port, Proto: proto})
	}
	return out, nil
}

// ServerLine formats s as a line of a knockd one_time_sequences file,
// without the newline: a leading space (for knockd's '#'), then every
// knock with its protocol spelled out.
func ServerLine(s seq.Sequence) string {
	return " " + s.String()
}

// WriteServerFile writes count sequences, from number from on, as the
// lines of a knockd one_time_sequences file.
func WriteServerFile(w io.Writer, secret []byte, p Params, from, count uint64) error {
	if count > 0 && from+count-1 < from {
		return fmt.Errorf("%w: sequences %d + %d overflow the counter", ErrParams, from, count)
	}
	bw := bufio.NewWriter(w)
	for i := uint64(0); i < count; i++ {
		s, err := Sequence(secret, from+i, p)
		if err != nil {
			return err
		}
		bw.WriteString(ServerLine(s))
		bw.WriteByte('\n')
	}
	return bw.Flush()
}
