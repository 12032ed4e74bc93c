package main

import (
	"slices"

	"github.com/spf13/cobra"

	"github.com/a-knock/knock/internal/door"
	"github.com/a-knock/knock/internal/profiles"
	"github.com/a-knock/knock/internal/seq"
	"github.com/a-knock/knock/internal/sshconf"
)

// runKnock is the root command: knock HOST PORT..., knock NAME, or the
// picker when there are no arguments and a terminal.
func (a *app) runKnock(cmd *cobra.Command, args []string, kf *knockFlags) error {
	if len(args) == 0 {
		if isInteractive() {
			return a.runPick(cmd.Context(), &knockFlags{door.DefaultArgs()})
		}
		return usagef("no host given; usage: knock HOST PORT[:PROTO]... or knock NAME (see knock --help)")
	}
	opts, err := a.options(kf)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	var d *door.Door
	if len(args) == 1 || !slices.ContainsFunc(args[1:], seq.LooksLikeKnock) {
		switch {
		case len(args) > 1:
			return usagef("invalid port %q (want 1..65535, optionally :tcp or :udp)", args[1])
		case door.OpenedByParent(args[0]):
			return nil // run by ssh under knock ssh (Match exec): the door is open
		}
		d, err = door.Lookup(ctx, args[0], opts)
	} else {
		def := seq.TCP
		if kf.UDP {
			def = seq.UDP
		}
		sq, perr := seq.Parse(def, args[1:]...)
		if perr != nil {
			return asUsage(perr)
		}
		d, err = door.Adhoc(ctx, args[0], sq, opts)
	}
	if err != nil {
		return err
	}
	_, err = d.Open(ctx)
	return err
}

func (a *app) newCloseCmd() *cobra.Command {
	kf := &knockFlags{}
	c := &cobra.Command{
		Use:   "close NAME",
		Short: "Play a profile's close sequence",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("close takes one profile NAME (see knock profile list)")
			}
			return nil
		},
		ValidArgsFunction: completeProfileName,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := a.options(kf)
			if err != nil {
				return err
			}
			d, err := door.Lookup(cmd.Context(), args[0], opts)
			if err != nil {
				return err
			}
			return d.Close(cmd.Context())
		},
	}
	kf.register(c, retriesDefault)
	return c
}

// profileNames lists profile names for completion from the names file
// only: no secret is read and the keyring is never asked, so completion
// cannot raise an unlock prompt. Any error gives no names.
func profileNames() []string {
	st, err := profiles.Default()
	if err != nil {
		return nil
	}
	return st.Names()
}

// completeHosts completes the first argument of knock, ssh, proxy and
// doctor: profile names and the concrete Host names of ssh_config.
func (a *app) completeHosts(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	names := profileNames()
	if cfg, err := sshconf.Load(sshconf.Path(a.sshConfig)); err == nil {
		for _, e := range cfg.Hosts() {
			names = append(names, e.Alias)
		}
	}
	slices.Sort(names)
	return slices.Compact(names), cobra.ShellCompDirectiveNoFileComp
}

// completeProfileName completes a profile name as the first argument.
func completeProfileName(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return profileNames(), cobra.ShellCompDirectiveNoFileComp
}
