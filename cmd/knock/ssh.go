package main

import (
	"context"
	"os"

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
		Long: `knock ssh NAME resolves NAME through the profiles and ~/.ssh/config, opens
its door, waits until the port that proves it open accepts (--wait, else the
profile's wait port, else the ssh port; replaying as --retries says), then
runs the system ssh with the terminal passed through. It pins what it
knocked: ssh gets -4 or -6 and the knocked address as HostName, with
HostKeyAlias set to the name known_hosts holds the key under, so existing
known_hosts entries keep matching.

The close sequence is played on every way out, once for every time the
open sequence was played: ssh exits or fails, Ctrl+C, SIGTERM, SIGHUP (the
terminal closed); on Windows also Ctrl+Break and closing the console.
Signals are passed on to ssh. knock exits with ssh's exit code.

knock's own flags go before NAME; everything after NAME (or after --) goes
to ssh: its options, then the remote command.`,
		Example: `  knock ssh myserver
  knock ssh myserver -- uptime
  knock ssh myserver -- -L 8080:localhost:80 -N`,
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
	return sshrun.SSH(ctx, d, a.sshOptions(sshPath, sshArgs, kf.dryRun))
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
