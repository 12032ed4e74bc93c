package door

import (
	"math"
	"time"

	"github.com/a-knock/knock/internal/exit"
	"github.com/a-knock/knock/internal/sender"
	"github.com/a-knock/knock/internal/seq"
)

// Args are the knock flags as the command line gives them: knock, close,
// ssh, proxy, run, forward and pick take them all, spa send the
// verification ones. [Args.Options] checks each against its range.
type Args struct {
	UDP        bool    // -u
	Delay      int     // -d, milliseconds
	IPv4, IPv6 bool    // -4, -6
	Verbose    bool    // -v
	Method     string  // --method
	TCPFlags   string  // --tcp-flags
	Payload    string  // --payload
	Wait       uint16  // --wait
	Timeout    float64 // --timeout, seconds
	Retries    int     // --retries
	SeqTimeout float64 // --seq-timeout, seconds
	DryRun     bool    // --dry-run
}

// The ranges of the arguments.
const (
	MaxDelayMS    = 600000 // ten minutes between knocks
	MaxTimeout    = 3600   // seconds
	MaxSeqTimeout = 86400  // seconds
	// MaxPayload is the largest UDP payload in one IPv4 datagram (65535
	// less the IPv4 and UDP headers); IPv6 allows 20 bytes more.
	MaxPayload = 65507
)

// DefaultArgs are the flags' defaults, for callers without a command line
// (plain knock opening the picker).
func DefaultArgs() Args {
	return Args{Method: "auto", Timeout: DefaultTimeout.Seconds(), Retries: DefaultRetries}
}

// Options checks a and returns the options it gives; every value out of
// its range is bad input naming it. The writers are left to the caller.
func (a Args) Options() (Options, error) {
	o := Options{Retries: a.Retries, DryRun: a.DryRun, Verbose: a.Verbose}
	ov := &o.Overrides
	ov.WaitPort = a.Wait
	ov.UDP = a.UDP
	if a.Delay < 0 || a.Delay > MaxDelayMS {
		return o, exit.Usagef("invalid delay %d (want milliseconds 0..%d)", a.Delay, MaxDelayMS)
	}
	ov.Delay = time.Duration(a.Delay) * time.Millisecond
	var err error
	if ov.Method, err = sender.ParseMethod(a.Method); err != nil {
		return o, exit.Usage(err)
	}
	if ov.Flags, err = seq.ParseFlags(a.TCPFlags); err != nil {
		return o, exit.Usage(err)
	}
	if a.Payload != "" {
		if len(a.Payload) > MaxPayload {
			return o, exit.Usagef("--payload is %d bytes; a UDP knock carries at most %d", len(a.Payload), MaxPayload)
		}
		ov.Payload = []byte(a.Payload)
	}
	switch {
	case a.IPv4 && a.IPv6:
		return o, exit.Usagef("-4 and -6 exclude each other")
	case a.IPv4:
		ov.Family = sender.IPv4
	case a.IPv6:
		ov.Family = sender.IPv6
	}
	if !Finite(a.Timeout) || a.Timeout <= 0 || a.Timeout > MaxTimeout {
		return o, exit.Usagef("invalid timeout %g (want seconds more than 0, at most %d)", a.Timeout, MaxTimeout)
	}
	o.Timeout = Seconds(a.Timeout)
	if a.Retries < 0 || a.Retries > MaxRetries {
		return o, exit.Usagef("invalid retries %d (want 0..%d)", a.Retries, MaxRetries)
	}
	if !Finite(a.SeqTimeout) || a.SeqTimeout < 0 || a.SeqTimeout > MaxSeqTimeout {
		return o, exit.Usagef("invalid seq-timeout %g (want seconds 0..%d)", a.SeqTimeout, MaxSeqTimeout)
	}
	ov.SeqTimeout = Seconds(a.SeqTimeout)
	return o, nil
}

// Finite reports whether f is a number (not NaN or an infinity).
func Finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// Seconds converts a count of seconds to a Duration.
func Seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
