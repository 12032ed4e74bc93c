package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/a-knock/knock/internal/door"
	"github.com/a-knock/knock/internal/seq"
	"github.com/a-knock/knock/internal/sshrun"
)

func (a *app) newProxyCmd() *cobra.Command {
	kf := &knockFlags{}
	c := &cobra.Command{
		Use:   "proxy NAME PORT",
		Short: "Knock and relay stdin/stdout to the port: ssh's ProxyCommand",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usagef("proxy takes a profile NAME and a PORT: ProxyCommand knock proxy %%n %%p")
			}
			return nil
		},
		ValidArgsFunction: a.completeHosts,
		RunE: func(cmd *cobra.Command, args []string) error {
			port, err := seq.ParsePort(args[1])
			if err != nil {
				return asUsage(err)
			}
			opts, err := a.options(kf)
			if err != nil {
				return err
			}
			// stdout belongs to ssh: --dry-run and -v output go to stderr.
			opts.Out = os.Stderr
			opts.Port = port
			d, err := door.Lookup(cmd.Context(), args[0], opts)
			if err != nil {
				return err
			}
			if kf.DryRun {
				_, err := d.Open(cmd.Context())
				return err
			}
			return sshrun.Proxy(d, port, os.Stdin, os.Stdout)
		},
	}
	kf.register(c, retriesDefault)
	return c
}
