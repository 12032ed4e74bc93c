package main

import (
	"os/exec"

	"github.com/spf13/cobra"

	"github.com/a-knock/knock/internal/door"
	"github.com/a-knock/knock/internal/sshrun"
)

func (a *app) newRunCmd() *cobra.Command {
	kf := &knockFlags{}
	c := &cobra.Command{
		Use:   "run NAME -- COMMAND [ARGS...]",
		Short: "Open a door, run any program, close the door when it ends",
		Long: `knock run NAME -- COMMAND opens NAME's door (verified and retried as knock
NAME does), runs COMMAND with the terminal passed through, and plays the
close sequence on every way out, exactly as knock ssh does: COMMAND exits or
fails, Ctrl+C, SIGTERM, SIGHUP; on Windows also Ctrl+Break and closing the
console. Signals are passed on to COMMAND. knock exits with its exit code.

COMMAND finds the door in its environment:

  KNOCK_NAME   the profile's name
  KNOCK_ADDR   the one address knocked (pinned: connect to it, not to the name)
  KNOCK_PORT   the port that proved the door open (unset when none is known)

knock's own flags go before NAME.`,
		Example: `  knock run db -- psql -h "$KNOCK_ADDR" -p 5432
  knock run vpn -- sudo openvpn --config office.ovpn
  knock run office -- sh -c 'xfreerdp /v:$KNOCK_ADDR'`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) < 2 {
				return usagef("run needs a profile NAME and a COMMAND: knock run NAME -- COMMAND [ARGS...]")
			}
			return nil
		},
		ValidArgsFunction: a.completeHosts,
		RunE: func(cmd *cobra.Command, args []string) error {
			name, command := args[0], args[1:]
			if command[0] == "--" {
				command = command[1:]
			}
			if len(command) == 0 {
				return usagef("run needs a COMMAND after --")
			}
			path, err := exec.LookPath(command[0])
			if err != nil {
				return usagef("command %q not found: %v", command[0], err)
			}
			opts, err := a.options(kf)
			if err != nil {
				return err
			}
			d, err := door.Lookup(cmd.Context(), name, opts)
			if err != nil {
				return err
			}
			if kf.dryRun {
				_, err := d.Open(cmd.Context())
				return err
			}
			c := exec.Command(path, command[1:]...)
			c.Args[0] = command[0]
			return sshrun.Run(d, c)
		},
	}
	// Everything after NAME belongs to the command, flags included.
	c.Flags().SetInterspersed(false)
	kf.register(c, retriesDefault)
	return c
}
