package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/a-knock/knock/internal/doctor"
	"github.com/a-knock/knock/internal/door"
	"github.com/a-knock/knock/internal/exit"
	"github.com/a-knock/knock/internal/profiles"
	"github.com/a-knock/knock/internal/sender"
	"github.com/a-knock/knock/internal/seq"
)

type doctorFlags struct {
	serverConfig, rules string
	port                uint16
	knock               bool
	ipv4, ipv6          bool
}

func (a *app) newDoctorCmd() *cobra.Command {
	df := &doctorFlags{}
	c := &cobra.Command{
		Use:               "doctor --server-config FILE [--rules FILE] | doctor HOST|NAME [--knock]",
		Short:             "Check a knockd setup (server files) or a client's path to a server",
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: a.completeHosts,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case df.serverConfig != "" && len(args) > 0:
				return usagef("give either --server-config FILE or a HOST|NAME, not both")
			case df.serverConfig != "":
				if df.knock || df.port != 0 {
					return usagef("--knock and --port check a client; they do not go with --server-config")
				}
				return doctorServer(cmd.OutOrStdout(), df)
			case df.rules != "":
				return usagef("--rules goes with --server-config FILE")
			case len(args) == 0:
				return usagef("nothing to check: give --server-config FILE, or a HOST or profile NAME")
			}
			return a.doctorClient(cmd.Context(), cmd.OutOrStdout(), args[0], df)
		},
	}
	f := c.Flags()
	f.StringVar(&df.serverConfig, "server-config", "", "lint this knockd.conf `FILE`")
	f.StringVar(&df.rules, "rules", "", "with --server-config: an iptables-save dump `FILE` of the same server")
	f.Uint16Var(&df.port, "port", 0, "guarded TCP `PORT` (default: the profile's wait port, else the ssh Port, else 22)")
	f.BoolVar(&df.knock, "knock", false, "play the profile's open sequence and check that the port opens (then close it again)")
	f.BoolVarP(&df.ipv4, "ipv4", "4", false, "knock over IPv4")
	f.BoolVarP(&df.ipv6, "ipv6", "6", false, "knock over IPv6")
	c.MarkFlagsMutuallyExclusive("ipv4", "ipv6")
	_ = c.MarkFlagFilename("server-config")
	_ = c.MarkFlagFilename("rules")
	return c
}

// doctorServer lints the server files and prints one line per finding
// and a summary.
func doctorServer(w io.Writer, df *doctorFlags) error {
	in, err := doctor.ReadInput(df.serverConfig, df.rules)
	if err != nil {
		return asUsage(err)
	}
	files := []string{df.serverConfig}
	if df.rules != "" {
		files = append(files, df.rules)
	}
	fs := doctor.Lint(in)
	for _, f := range fs {
		fmt.Fprintln(w, oneLine(f.String()))
	}
	n := doctor.Problems(fs)
	where := strings.Join(files, " and ")
	if notes := len(fs) - n; notes > 0 {
		where += fmt.Sprintf(" (%d %s)", notes, plural(notes, "note"))
	}
	if n == 0 {
		fmt.Fprintf(w, "knock doctor: no problems in %s\n", where)
		return nil
	}
	fmt.Fprintf(w, "knock doctor: %d %s in %s\n", n, plural(n, "problem"), where)
	return exit.WithCode(exit.Failure, nil)
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// doctorClient checks the client side of HOST or profile NAME.
func (a *app) doctorClient(ctx context.Context, w io.Writer, arg string, df *doctorFlags) error {
	opts := door.Options{SSHConfig: a.sshConfig, Log: io.Discard, Out: io.Discard, Retries: retriesDefault}
	opts.WaitPort = df.port
	switch {
	case df.ipv4:
		opts.Family = sender.IPv4
	case df.ipv6:
		opts.Family = sender.IPv6
	}
	t, err := door.Resolve(ctx, arg, opts)
	if err != nil {
		return err
	}
	in := doctor.ClientInput{Host: t.Host, Family: t.Family, SSHFamily: t.SSH.Family, Port: t.WaitPort()}
	if p := t.Profile; p != nil {
		if k := p.EffectiveKind(); k != profiles.KindSequence {
			noticef("profile %q is of kind %s: checking its host only", arg, k)
		}
		in.Knocks, _ = p.OpenSeq()
		in.Flags, _ = seq.ParseFlags(p.TCPFlags)
		in.Method, _ = sender.ParseMethod(p.Method)
	} else if df.knock {
		return usagef("--knock needs a profile; %q is none (see knock profile list)", arg)
	}
	if in.Port == 0 {
		in.Port = 22
	}
	results, addr := doctor.CheckClient(ctx, in)
	for _, r := range results {
		fmt.Fprintln(w, oneLine(r.String()))
	}
	if addr.IsValid() && df.knock {
		opts.WaitPort = in.Port
		for _, r := range doctor.Knock(ctx, arg, opts) {
			results = append(results, r)
			fmt.Fprintln(w, oneLine(r.String()))
		}
	}
	if addr.IsValid() && len(in.Knocks) > 0 {
		r := doctor.ProbeKnockPort(ctx, addr, in.Knocks, 2*time.Second)
		results = append(results, *r)
		fmt.Fprintln(w, oneLine(r.String()))
	}
	var fails, warns int
	for _, r := range results {
		switch r.Status {
		case doctor.Fail:
			fails++
		case doctor.Warn:
			warns++
		}
	}
	fmt.Fprintf(w, "knock doctor: %d %s, %d %s for %s\n", fails, plural(fails, "problem"), warns, plural(warns, "warning"), arg)
	if fails > 0 {
		return exit.WithCode(exit.Failure, nil)
	}
	return nil
}
