package main

import (
	"errors"
	"io"
	"net/netip"
	"os"

	"github.com/spf13/cobra"

	"github.com/a-knock/knock/internal/door"
	"github.com/a-knock/knock/internal/knockdconf"
	"github.com/a-knock/knock/internal/server"
)

// maxAttempts bounds --max-attempts: each tracked attempt costs a few
// hundred bytes.
const maxAttempts = 10000000

type serveFlags struct {
	config      string
	iface       string
	listen      bool
	sniff       bool
	bind        []string
	gates       []string
	maxAttempts int
	execTimeout float64
	quiet       bool
}

func newServeCmd() *cobra.Command {
	sf := &serveFlags{}
	c := &cobra.Command{
		Use:   "serve [-c knockd.conf] [-i IFACE] [--listen] [--gate LISTEN=BACKEND]",
		Short: "Run the reference knock server (knockd-compatible)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd, sf)
		},
	}
	f := c.Flags()
	f.StringVarP(&sf.config, "config", "c", "/etc/knockd.conf", "knockd configuration `FILE`")
	f.StringVarP(&sf.iface, "interface", "i", "", "sniff on `IFACE` (overrides Interface in the file)")
	f.BoolVar(&sf.listen, "listen", false, "listen mode: bind the knock ports (no root needed)")
	f.BoolVar(&sf.sniff, "sniff", false, "sniff mode: read packets from the interface (Linux, root)")
	f.StringArrayVar(&sf.bind, "bind", nil, "listen mode: bind knock ports on `ADDR` only (repeatable)")
	f.StringArrayVar(&sf.gates, "gate", nil, "built-in gate `LISTEN=BACKEND` opened by doors with gate = open (repeatable)")
	f.IntVar(&sf.maxAttempts, "max-attempts", server.DefaultMaxAttempts, "knock attempts tracked at once; beyond, the oldest of the least advanced is dropped")
	f.Float64Var(&sf.execTimeout, "exec-timeout", server.DefaultExecTimeout.Seconds(), "seconds a command may run before it is killed (more than 0, at most 3600)")
	f.BoolVarP(&sf.quiet, "quiet", "q", false, "print nothing but errors (the LogFile still gets every line)")
	return c
}

func runServe(cmd *cobra.Command, sf *serveFlags) error {
	if sf.listen && sf.sniff {
		return usagef("--listen and --sniff exclude each other")
	}
	conf, err := knockdconf.ParseFile(sf.config)
	if err != nil {
		return asUsage(err)
	}
	opts := server.Options{Interface: sf.iface, MaxAttempts: sf.maxAttempts, ExecTimeout: door.Seconds(sf.execTimeout)}
	switch {
	case sf.listen:
		opts.Mode = server.Listen
	case sf.sniff:
		opts.Mode = server.Sniff
	}
	if sf.maxAttempts < 1 || sf.maxAttempts > maxAttempts {
		return usagef("invalid --max-attempts %d (want 1..%d)", sf.maxAttempts, maxAttempts)
	}
	if !door.Finite(sf.execTimeout) || sf.execTimeout <= 0 || sf.execTimeout > door.MaxTimeout {
		return usagef("invalid --exec-timeout %g (want seconds more than 0, at most %d)", sf.execTimeout, door.MaxTimeout)
	}
	for _, b := range sf.bind {
		a, err := netip.ParseAddr(b)
		if err != nil {
			return usagef("invalid --bind address %q", b)
		}
		opts.Bind = append(opts.Bind, a)
	}
	for _, g := range sf.gates {
		spec, err := server.ParseGateSpec(g)
		if err != nil {
			return asUsage(err)
		}
		opts.Gates = append(opts.Gates, spec)
	}
	var console io.Writer = os.Stdout
	if sf.quiet {
		console = nil
	}
	out, err := server.OpenOutputs(conf, console)
	if err != nil {
		return err
	}
	defer out.Close()
	for _, w := range out.Warnings {
		warnf("%s", w)
	}
	opts.Log = out.Log
	srv, err := server.New(conf, opts)
	if err != nil {
		if errors.As(err, new(knockdconf.Errors)) {
			return asUsage(err)
		}
		return err
	}
	if srv.Mode() == server.Listen && sf.iface != "" {
		warnf("-i %s applies to sniff mode; listen mode binds the knock ports on every address (use --bind ADDR)", sf.iface)
	}
	return srv.Run(cmd.Context())
}
