// Package gen draws knock sequences from the operating system's CSPRNG and
// judges sequences that people wrote by hand. A generated sequence avoids
// privileged and well-known ports, round numbers, repeated ports and
// monotonic runs (three knocks in a row going up, or going down), so that
// neither a port scan sweeping upwards nor a guess from a tutorial plays it
// by accident; its close sequence is its reverse.
package gen

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/a-knock/knock/internal/seq"
)

// Length limits and default for generated sequences.
const (
	MinLength     = 3
	DefaultLength = 4
	MaxLength     = seq.MaxKnocks
)

// Range of ports a generated sequence draws from: no privileged ports.
const (
	LowPort  = 1024
	HighPort = 65535
)

// ErrLength is returned for a length outside MinLength..MaxLength.
var ErrLength = errors.New("invalid sequence length")

// randReader is the entropy source; tests may replace it.
var randReader io.Reader = rand.Reader

// maxDraws bounds the rejection sampling of one knock, maxRestarts that of
// a sequence. Fewer than one draw in ten is rejected in practice.
const (
	maxDraws    = 1000
	maxRestarts = 100
)

// Sequence returns a random open sequence of length knocks. proto is "tcp",
// "udp" or "mixed" (each knock tcp or udp at random, both present). The
// close sequence is [seq.Sequence.Reverse] of the result.
func Sequence(length int, proto string) (seq.Sequence, error) {
	if length < MinLength || length > MaxLength {
		return nil, fmt.Errorf("%w %d (want %d..%d knocks)", ErrLength, length, MinLength, MaxLength)
	}
	protos, err := drawProtos(length, proto)
	if err != nil {
		return nil, err
	}
	// A draw can corner itself (after 1024, 1025 nothing fits below);
	// start again then. That is rare enough that a few restarts suffice.
	for restart := 0; restart < maxRestarts; restart++ {
		s, err := draw(protos)
		if err != nil {
			return nil, err
		}
		if s != nil {
			return s, nil
		}
	}
	return nil, errors.New("random source gives no usable sequence")
}

// draw draws one sequence with the given protocols, or returns nil when it
// ran out of room for the next knock.
func draw(protos []seq.Proto) (seq.Sequence, error) {
	s := make(seq.Sequence, 0, len(protos))
	used := make(map[uint16]bool, len(protos))
	for i := range protos {
		lo, hi := uint32(LowPort), uint32(HighPort)
		// Break a run of two steps in the same direction: after going up,
		// go down, and the other way round.
		if i >= 2 {
			prev, before := uint32(s[i-1].Port), uint32(s[i-2].Port)
			if prev > before {
				hi = prev - 1
			} else {
				lo = prev + 1
			}
		}
		p, ok, err := drawPort(lo, hi, used)
		if err != nil || !ok {
			return nil, err
		}
		used[p] = true
		s = append(s, seq.Knock{Port: p, Proto: protos[i]})
	}
	return s, nil
}

func drawProtos(length int, proto string) ([]seq.Proto, error) {
	ps := make([]seq.Proto, length)
	switch proto {
	case "tcp", "":
		return ps, nil
	case "udp":
		for i := range ps {
			ps[i] = seq.UDP
		}
		return ps, nil
	case "mixed":
		for tries := 0; tries < maxDraws; tries++ {
			var tcp, udp int
			for i := range ps {
				n, err := uniform(2)
				if err != nil {
					return nil, err
				}
				ps[i] = seq.Proto(n)
				if ps[i] == seq.UDP {
					udp++
				} else {
					tcp++
				}
			}
			if tcp > 0 && udp > 0 {
				return ps, nil
			}
		}
		return nil, errors.New("random source gives no mixed protocols")
	}
	return nil, fmt.Errorf("invalid protocol %q (want tcp, udp or mixed)", proto)
}

// drawPort draws a port in lo..hi that is neither used nor avoided; ok is
// false when many draws found none.
func drawPort(lo, hi uint32, used map[uint16]bool) (port uint16, ok bool, err error) {
	for tries := 0; tries < maxDraws; tries++ {
		n, err := uniform(hi - lo + 1)
		if err != nil {
			return 0, false, err
		}
		p := uint16(lo + n)
		if !used[p] && !Avoided(p) {
			return p, true, nil
		}
	}
	return 0, false, nil
}

// uniform returns a uniformly random number in 0..n-1 (n > 0).
func uniform(n uint32) (uint32, error) {
	// Reject the top of the uint32 range that would bias the remainder.
	limit := ^uint32(0) - ^uint32(0)%n
	var b [4]byte
	for {
		if _, err := io.ReadFull(randReader, b[:]); err != nil {
			return 0, fmt.Errorf("read random source: %w", err)
		}
		v := binary.BigEndian.Uint32(b[:])
		if v < limit {
			return v % n, nil
		}
	}
}
