package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

// subcommands holds the constructors of every subcommand; each subcommand's
// file adds itself in an init function, so that no file lists them all.
var subcommands []func() *cobra.Command

func register(f func() *cobra.Command) { subcommands = append(subcommands, f) }

// run builds the command tree, executes it with args and returns the exit
// code. It is main without os.Exit, for tests.
func run(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil && strings.HasPrefix(err.Error(), "unknown command ") {
		// cobra's own error for an argument that names no subcommand
		// ("knock profile bogus", "knock pick extra"): bad usage.
		err = asUsage(err)
	}
	if err != nil {
		if ctx.Err() != nil && !errors.As(err, new(exitError)) {
			err = errInterrupted
		}
		printError(os.Stderr, err)
	}
	return exitCode(err)
}

func newRootCmd() *cobra.Command {
	kf := &knockFlags{}
	root := &cobra.Command{
		Use:   "knock [flags] HOST PORT[:PROTO] [PORT[:PROTO]...] | knock [flags] NAME",
		Short: "Port-knocking client: knockd sequences, fwknop SPA, profiles and ssh",
		Long: `knock plays port-knocking sequences that knockd (and knock serve) accept.

  knock HOST PORT[:PROTO]...   knock a host, knockd client syntax (7000,8000:udp,9000)
  knock NAME                   play a saved profile's open sequence (see knock profile)
  knock close NAME             play its close sequence

TCP knocks are one SYN from a plain connect(), or raw packets with any flags
(--tcp-flags, needs root or CAP_NET_RAW). --wait PORT verifies that the
guarded port opened, retrying the sequence when it did not.

Exit codes: 0 sent (and verified with --wait), 1 network failure or port not
opened, 2 bad usage or input, 130 interrupted.`,
		Example: `  knock 198.51.100.2 7000 8000 9000
  knock -u 198.51.100.2 7000,8000,9000
  knock 198.51.100.2 7000,8000:udp,9000 --wait 22
  sudo knock 198.51.100.2 7000 8000 --tcp-flags fin,!ack
  knock myserver && ssh myserver`,
		Args:          cobra.ArbitraryArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runKnock(cmd, args, kf)
		},
		ValidArgsFunction: completeHosts,
	}
	root.Version = versionString()
	root.SetVersionTemplate("{{.Version}}\n")
	root.Flags().SetInterspersed(true)
	kf.register(root)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return asUsage(err) })
	for _, f := range subcommands {
		root.AddCommand(f())
	}
	markArgErrorsUsage(root)
	root.CompletionOptions.HiddenDefaultCmd = false
	return root
}

// markArgErrorsUsage marks the errors of every command's argument check (cobra's
// NoArgs, ExactArgs, ...) as bad usage, exit code 2, as flag errors are.
func markArgErrorsUsage(c *cobra.Command) {
	if check := c.Args; check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error { return asUsage(check(cmd, args)) }
	}
	for _, sub := range c.Commands() {
		markArgErrorsUsage(sub)
	}
}

// knockFlags are the flags of the knock action; `knock ssh` and `knock
// proxy` share them.
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

// Defaults of the verification flags. Thirteen rounds succeed 99.9% of
// the time when a quarter of all knocks are lost (see README, Benchmarks),
// and fit in the default timeout.
const (
	defaultRetries = 12
	defaultTimeout = 10
)

func (kf *knockFlags) register(c *cobra.Command) {
	f := c.Flags()
	f.BoolVarP(&kf.udp, "udp", "u", false, "make udp the default protocol (as knockd's knock -u)")
	f.IntVarP(&kf.delay, "delay", "d", 0, "milliseconds between knocks")
	f.BoolVarP(&kf.ipv4, "ipv4", "4", false, "use IPv4 only")
	f.BoolVarP(&kf.ipv6, "ipv6", "6", false, "use IPv6 only")
	f.BoolVarP(&kf.verbose, "verbose", "v", false, "print each packet with a timestamp")
	f.StringVar(&kf.method, "method", "auto", "TCP knock method: auto, connect or raw")
	f.StringVar(&kf.tcpFlags, "tcp-flags", "", "TCP flags as knockd's TCPFlags (syn, fin,!ack, ...)")
	f.StringVar(&kf.payload, "payload", "", "payload of UDP knocks")
	f.Uint16Var(&kf.wait, "wait", 0, "verify: wait until this TCP `PORT` accepts, else retry and fail")
	f.Float64Var(&kf.timeout, "timeout", defaultTimeout, "seconds to wait for --wait, over all retries")
	f.IntVar(&kf.retries, "retries", defaultRetries, "how many times to replay the sequence when --wait sees no open port")
	f.Float64Var(&kf.seqTimeout, "seq-timeout", 0, "the door's seq_timeout in seconds: warn when the sequence cannot finish inside it")
	f.BoolVar(&kf.dryRun, "dry-run", false, "print what would be sent, send nothing")
}

func runKnock(cmd *cobra.Command, args []string, kf *knockFlags) error {
	if len(args) == 0 {
		if pickHook != nil && isInteractive() {
			return pickHook(cmd)
		}
		return usagef("no host given; usage: knock HOST PORT[:PROTO]... or knock NAME (see knock --help)")
	}
	if len(args) == 1 || !looksLikeKnockList(args[1:]) {
		if len(args) > 1 {
			return usagef("invalid port %q (want 1..65535, optionally :tcp or :udp)", args[1])
		}
		return playProfileHook(cmd, args[0], kf, false)
	}
	plan, err := kf.plan(args[0], args[1:])
	if err != nil {
		return err
	}
	return plan.execute(cmd.Context(), os.Stdout, os.Stderr)
}

// playProfileHook plays a saved profile; the profiles code replaces it.
var playProfileHook = func(_ *cobra.Command, name string, _ *knockFlags, _ bool) error {
	return usagef("no ports given for %q and no profile of that name; usage: knock HOST PORT[:PROTO]...", name)
}

// pickHook opens the host picker; the picker code sets it.
var pickHook func(cmd *cobra.Command) error

// completeHosts completes host arguments; the profiles code replaces it.
var completeHosts = func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return nil, cobra.ShellCompDirectiveNoFileComp
}

func looksLikeKnockList(words []string) bool {
	for _, w := range words {
		if w != "" && w[0] >= '0' && w[0] <= '9' {
			return true
		}
	}
	return false
}

func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

func joinLines(lines []string) string { return strings.Join(lines, "\n") }

var _ = fmt.Sprintf
