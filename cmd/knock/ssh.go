package main

import (
	"context"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/a-knock/knock/internal/door"
	"github.com/a-knock/knock/internal/sshconf"
	"github.com/a-knock/knock/internal/sshrun"
)

func (a *app) newSSHCmd() *cobra.Command {
	kf := &knockFlags{}
	c := &cobra.Command{
		Use:   "ssh NAME [-- SSH-ARGS...]",
		Short: "Knock, run ssh, and play the close sequence when it ends",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("ssh needs a profile NAME: knock ssh NAME [-- SSH-ARGS...]")
			}
			return nil
		},
		ValidArgsFunction: a.completeHosts,
		RunE: func(cmd *cobra.Command, args []string) error {
			rest := args[1:]
			if len(rest) > 0 && rest[0] == "--" {
				rest = rest[1:]
			}
			// ssh has no long options: one among ssh's options (before the
			// remote command) is one of knock's, given after NAME.
			for _, a := range rest {
				if !strings.HasPrefix(a, "-") || a == "--" {
					break
				}
				if strings.HasPrefix(a, "--") {
					return usagef("%s after NAME goes to ssh, which has no such option; knock's flags go before NAME: knock ssh %s %s", a, a, args[0])
				}
			}
			return a.runSSH(cmd, args[0], rest, kf)
		},
	}
	// Everything after NAME belongs to ssh, flags included.
	c.Flags().SetInterspersed(false)
	kf.register(c, retriesDefault)
	return c
}

func (a *app) runSSH(cmd *cobra.Command, name string, sshArgs []string, kf *knockFlags) error {
	sshPath, err := sshrun.LookSSH("")
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	d, err := a.sshDoor(ctx, name, kf)
	if err != nil {
		return err
	}
	return sshrun.SSH(ctx, d, a.sshOptions(sshPath, sshArgs, kf.DryRun))
}

// sshDoor looks name up for ssh: the port ssh connects to is its ssh
// Port, which proves the door open unless --wait or the profile names
// another (door.Target.WaitPort).
func (a *app) sshDoor(ctx context.Context, name string, kf *knockFlags) (*door.Door, error) {
	opts, err := a.options(kf)
	if err != nil {
		return nil, err
	}
	opts.SSH = true
	return door.Lookup(ctx, name, opts)
}

// sshOptions are how knock ssh and the picker run ssh.
func (a *app) sshOptions(sshPath string, args []string, dryRun bool) sshrun.SSHOptions {
	o := sshrun.SSHOptions{Path: sshPath, Args: args, DryRun: dryRun, Out: os.Stdout}
	if path, explicit := sshconf.Path(a.sshConfig); explicit {
		o.ConfigFile = path
	}
	return o
}
