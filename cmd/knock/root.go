package main

import (
	"context"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/a-knock/knock/internal/exit"
	"github.com/a-knock/knock/internal/sshconf"
)

// app holds what every command shares: the persistent flags.
type app struct {
	sshConfig string // -F
}

// run builds the command tree, executes it with args and returns the exit
// code. It is main without os.Exit, for tests.
func run(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil && cobraUsage(err.Error()) {
		err = exit.Usage(err)
	}
	if err != nil && ctx.Err() != nil && exit.Code(err) != exit.Interrupted && !exit.Silent(err) {
		err = exit.ErrInterrupted
	}
	if err != nil {
		printError(os.Stderr, err)
	}
	return exit.Code(err)
}

// newRootCmd builds the whole command tree: the knock action on the root,
// and every subcommand, listed here.
func newRootCmd() *cobra.Command {
	a := &app{}
	kf := &knockFlags{}
	root := &cobra.Command{
		Use:           "knock [flags] HOST PORT[:PROTO] [PORT[:PROTO]...] | knock [flags] NAME",
		Short:         "Port-knocking client: knockd sequences, fwknop SPA, profiles and ssh",
		Args:          cobra.ArbitraryArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runKnock(cmd, args, kf)
		},
		ValidArgsFunction: a.completeHosts,
	}
	root.Version = versionString()
	root.SetVersionTemplate("{{.Version}}\n")
	root.Flags().SetInterspersed(true)
	root.PersistentFlags().StringVarP(&a.sshConfig, "ssh-config", "F", "",
		"read this ssh_config `FILE` instead of ~/.ssh/config (default $"+sshconf.EnvConfig+")")
	kf.register(root, retriesDefault)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return exit.Usage(err) })
	root.AddCommand(
		a.newCloseCmd(),
		a.newSSHCmd(),
		a.newProxyCmd(),
		a.newRunCmd(),
		a.newForwardCmd(),
		a.newPickCmd(),
		a.newProfileCmd(),
		a.newSPACmd(),
		a.newOTPCmd(),
		a.newDoctorCmd(),
		newServeCmd(),
		newDemoCmd(),
		newCompletionCmd(),
		newManCmd(),
	)
	markArgErrorsUsage(root)
	attachHelp(root)
	root.CompletionOptions.HiddenDefaultCmd = false
	return root
}

// cobraUsage recognises the errors cobra makes itself for bad usage: an
// argument that names no subcommand ("knock profile bogus"), flags of an
// exclusive group given together, a required flag missing.
func cobraUsage(msg string) bool {
	for _, p := range []string{"unknown command ", "if any flags in the group ", "required flag(s) "} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// markArgErrorsUsage marks the errors of every command's argument check (cobra's
// NoArgs, ExactArgs, ...) as bad usage, exit code 2, as flag errors are.
func markArgErrorsUsage(c *cobra.Command) {
	if check := c.Args; check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error { return exit.Usage(check(cmd, args)) }
	}
	for _, sub := range c.Commands() {
		markArgErrorsUsage(sub)
	}
}
