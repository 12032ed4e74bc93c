package main

import (
	"github.com/spf13/cobra"
)

func init() { register(newCloseCmd) }

func newCloseCmd() *cobra.Command {
	kf := &knockFlags{}
	c := &cobra.Command{
		Use:   "close NAME",
		Short: "Play a profile's close sequence",
		Long: `knock close NAME plays the close sequence of profile NAME (knockd's
[closeSSH] door), with the profile's flags, delay and address family.
A profile without a close sequence gets a warning and nothing is sent.`,
		Example: `  knock close myserver`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("close takes one profile NAME (see knock profile list)")
			}
			return nil
		},
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return profileNames(), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return playProfile(cmd.Context(), args[0], kf, true)
		},
	}
	kf.register(c)
	return c
}
