package main

import (
	"math"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/a-knock/knock/internal/door"
	"github.com/a-knock/knock/internal/sender"
	"github.com/a-knock/knock/internal/seq"
)

// knockFlags are the flags of the knock action; knock close, ssh, proxy,
// pick and spa send share them (spa send only the verification ones).
type knockFlags struct {
	udp        bool
	delay      int
	ipv4, ipv6 bool
	verbose    bool
	method     string
	tcpFlags   string
	payload    string
	wait       uint16
	timeout    float64
	retries    int
	seqTimeout float64
	dryRun     bool
}

// Defaults and ranges of the knock flags.
const (
	retriesDefault = door.DefaultRetries
	maxDelayMS     = 600000 // ten minutes between knocks
	maxTimeout     = 3600   // seconds
	maxSeqTimeout  = 86400  // seconds
	// maxPayload is the largest UDP payload in one IPv4 datagram (65535
	// less the IPv4 and UDP headers); IPv6 allows 20 bytes more.
	maxPayload = 65507
)

// register adds every knock flag to c.
func (kf *knockFlags) register(c *cobra.Command, retries int) {
	f := c.Flags()
	f.BoolVarP(&kf.udp, "udp", "u", false, "make udp the default protocol (as knockd's knock -u)")
	f.IntVarP(&kf.delay, "delay", "d", 0, "milliseconds between knocks (0..600000)")
	f.BoolVarP(&kf.ipv4, "ipv4", "4", false, "use IPv4 only")
	f.BoolVarP(&kf.ipv6, "ipv6", "6", false, "use IPv6 only")
	f.StringVar(&kf.method, "method", "auto", "TCP knock method: auto, connect or raw")
	f.StringVar(&kf.tcpFlags, "tcp-flags", "", "TCP flags as knockd's TCPFlags (syn, fin,!ack, ...)")
	f.StringVar(&kf.payload, "payload", "", "payload of UDP knocks")
	f.Float64Var(&kf.seqTimeout, "seq-timeout", 0, "the door's seq_timeout in seconds (0..86400): warn when the sequence cannot finish inside it")
	kf.registerVerify(c, retries)
}

// registerVerify adds the verification flags, -v and --dry-run to c.
func (kf *knockFlags) registerVerify(c *cobra.Command, retries int) {
	f := c.Flags()
	f.BoolVarP(&kf.verbose, "verbose", "v", false, "print each packet with a timestamp")
	f.Uint16Var(&kf.wait, "wait", 0, "verify: wait until this TCP `PORT` accepts, else retry and fail")
	f.Float64Var(&kf.timeout, "timeout", door.DefaultTimeout.Seconds(), "seconds to wait for the port, over all retries (more than 0, at most 3600)")
	f.IntVar(&kf.retries, "retries", retries, "how many times to replay when the port stays closed (0..100)")
	f.BoolVar(&kf.dryRun, "dry-run", false, "print what would be sent, send nothing")
}

// defaultKnockFlags are the flags' defaults, for callers without a
// command line (plain knock opening the picker, doctor --knock).
func defaultKnockFlags() *knockFlags {
	return &knockFlags{method: "auto", timeout: door.DefaultTimeout.Seconds(), retries: retriesDefault}
}

// options checks the flags and turns them into door options. Every value
// out of its range is a usage error naming it.
func (a *app) options(kf *knockFlags) (door.Options, error) {
	o := door.Options{
		Retries:   kf.retries,
		DryRun:    kf.dryRun,
		Verbose:   kf.verbose,
		Out:       os.Stdout,
		Log:       os.Stderr,
		SSHConfig: a.sshConfig,
	}
	ov := &o.Overrides
	ov.WaitPort = kf.wait
	ov.UDP = kf.udp
	if kf.delay < 0 || kf.delay > maxDelayMS {
		return o, usagef("invalid delay %d (want milliseconds 0..%d)", kf.delay, maxDelayMS)
	}
	ov.Delay = time.Duration(kf.delay) * time.Millisecond
	m, err := sender.ParseMethod(kf.method)
	if err != nil {
		return o, asUsage(err)
	}
	ov.Method = m
	if ov.Flags, err = seq.ParseFlags(kf.tcpFlags); err != nil {
		return o, asUsage(err)
	}
	if kf.payload != "" {
		if len(kf.payload) > maxPayload {
			return o, usagef("--payload is %d bytes; a UDP knock carries at most %d", len(kf.payload), maxPayload)
		}
		ov.Payload = []byte(kf.payload)
	}
	switch {
	case kf.ipv4 && kf.ipv6:
		return o, usagef("-4 and -6 exclude each other")
	case kf.ipv4:
		ov.Family = sender.IPv4
	case kf.ipv6:
		ov.Family = sender.IPv6
	}
	if !finite(kf.timeout) || kf.timeout <= 0 || kf.timeout > maxTimeout {
		return o, usagef("invalid timeout %g (want seconds more than 0, at most %d)", kf.timeout, maxTimeout)
	}
	o.Timeout = seconds(kf.timeout)
	if kf.retries < 0 || kf.retries > door.MaxRetries {
		return o, usagef("invalid retries %d (want 0..%d)", kf.retries, door.MaxRetries)
	}
	if !finite(kf.seqTimeout) || kf.seqTimeout < 0 || kf.seqTimeout > maxSeqTimeout {
		return o, usagef("invalid seq-timeout %g (want seconds 0..%d)", kf.seqTimeout, maxSeqTimeout)
	}
	ov.SeqTimeout = seconds(kf.seqTimeout)
	return o, nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
