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
			if kf.DryRun {
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
