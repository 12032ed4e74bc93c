package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/a-knock/knock/internal/door"
	"github.com/a-knock/knock/internal/forward"
	"github.com/a-knock/knock/internal/sshrun"
)

func (a *app) newForwardCmd() *cobra.Command {
	kf := &knockFlags{}
	var linger float64
	var allowRemote bool
	c := &cobra.Command{
		Use:   "forward NAME [[BIND:]LOCALPORT:REMOTEPORT...]",
		Short: "Forward local ports through a door, for any program",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("forward needs a profile NAME: knock forward NAME [[BIND:]LOCALPORT:REMOTEPORT...]")
			}
			return nil
		},
		ValidArgsFunction: a.completeHosts,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !door.Finite(linger) || linger < 0 || linger > door.MaxTimeout {
				return usagef("invalid linger %g (want seconds 0..%d)", linger, door.MaxTimeout)
			}
			specs, err := forward.ParseSpecs(args[1:], allowRemote)
			if err != nil {
				return err
			}
			opts, err := a.options(kf)
			if err != nil {
				return err
			}
			if len(specs) > 0 {
				opts.Port = specs[0].Remote
			}
			d, err := door.Lookup(cmd.Context(), args[0], opts)
			if err != nil {
				return err
			}
			if len(specs) == 0 {
				if specs, err = forward.ParseSpecs(d.T.Profile.Forwards, allowRemote); err != nil {
					return err
				}
				if len(specs) == 0 {
					return usagef("no forward given and profile %q has none (knock profile edit %s --forward LOCALPORT:REMOTEPORT)", args[0], args[0])
				}
				d.T.Connects(specs[0].Remote)
			}
			if kf.DryRun {
				if _, err := d.Open(cmd.Context()); err != nil {
					return err
				}
				for _, s := range specs {
					fmt.Fprintf(os.Stdout, "then forward %s to %s port %d\n", s, d.T.Addr, s.Remote)
				}
				return nil
			}
			f, err := forward.Listen(d, specs, forward.Options{Linger: door.Seconds(linger), Status: os.Stderr, Live: isTerminal(os.Stderr)})
			if err != nil {
				return err
			}
			// The guard ends the forwards on Ctrl+C, SIGTERM or SIGHUP; Serve
			// closes the door.
			g := sshrun.New(nil)
			defer g.Close()
			return f.Serve(g.Context())
		},
	}
	kf.register(c, retriesDefault)
	c.Flags().Float64Var(&linger, "linger", forward.DefaultLinger.Seconds(), "seconds the door stays open after the last connection ends (0..3600)")
	c.Flags().BoolVar(&allowRemote, "allow-remote", false, "allow a BIND that is not a loopback address")
	return c
}
