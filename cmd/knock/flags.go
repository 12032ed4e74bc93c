package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/a-knock/knock/internal/door"
)

// knockFlags are the flags of the knock action; knock close, ssh, proxy,
// run, forward, pick and spa send share them (spa send only the
// verification ones). door.Args checks them.
type knockFlags struct{ door.Args }

const retriesDefault = door.DefaultRetries

// register adds every knock flag to c.
func (kf *knockFlags) register(c *cobra.Command, retries int) {
	f := c.Flags()
	f.BoolVarP(&kf.UDP, "udp", "u", false, "make udp the default protocol (as knockd's knock -u)")
	f.IntVarP(&kf.Delay, "delay", "d", 0, "milliseconds between knocks (0..600000)")
	f.BoolVarP(&kf.IPv4, "ipv4", "4", false, "use IPv4 only")
	f.BoolVarP(&kf.IPv6, "ipv6", "6", false, "use IPv6 only")
	f.StringVar(&kf.Method, "method", "auto", "TCP knock method: auto, connect or raw")
	f.StringVar(&kf.TCPFlags, "tcp-flags", "", "TCP flags as knockd's TCPFlags (syn, fin,!ack, ...)")
	f.StringVar(&kf.Payload, "payload", "", "payload of UDP knocks")
	f.Float64Var(&kf.SeqTimeout, "seq-timeout", 0, "the door's seq_timeout in seconds (0..86400): warn when the sequence cannot finish inside it")
	kf.registerVerify(c, retries)
}

// registerVerify adds the verification flags, -v and --dry-run to c.
func (kf *knockFlags) registerVerify(c *cobra.Command, retries int) {
	f := c.Flags()
	f.BoolVarP(&kf.Verbose, "verbose", "v", false, "print each packet with a timestamp")
	f.Uint16Var(&kf.Wait, "wait", 0, "verify: wait until this TCP `PORT` accepts, else retry and fail")
	f.Float64Var(&kf.Timeout, "timeout", door.DefaultTimeout.Seconds(), "seconds to wait for the port, over all retries (more than 0, at most 3600)")
	f.IntVar(&kf.Retries, "retries", retries, "how many times to replay when the port stays closed (0..100)")
	f.BoolVar(&kf.DryRun, "dry-run", false, "print what would be sent, send nothing")
}

// options checks the flags and turns them into door options, with
// stdout and stderr as the door's writers and -F as its ssh_config.
func (a *app) options(kf *knockFlags) (door.Options, error) {
	o, err := kf.Options()
	o.Out, o.Log, o.SSHConfig = os.Stdout, os.Stderr, a.sshConfig
	return o, err
}
