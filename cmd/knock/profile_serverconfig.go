package main

import (
	"bytes"
	"time"

	"github.com/spf13/cobra"

	"github.com/a-knock/knock/internal/door"
	"github.com/a-knock/knock/internal/profiles"
	"github.com/a-knock/knock/internal/serverconf"
)

func (a *app) newProfileServerConfigCmd() *cobra.Command {
	var (
		firewall, part, style, sbin string
		port                        uint16
		openFor                     int
	)
	c := &cobra.Command{
		Use:               "server-config NAME [--firewall iptables|nftables] [--port 22] [--part knockd|firewall|all]",
		Short:             "Print the knockd doors and firewall rules that make a profile work",
		Args:              oneName,
		ValidArgsFunction: completeProfileName,
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if cmd.Flags().Changed("port") && port == 0 {
				return usagef("invalid --port 0 (want 1..65535)")
			}
			st, err := openStores()
			if err != nil {
				return err
			}
			p, _, err := st.Get(name)
			if err != nil {
				return err
			}
			cfg := serverconf.Config{
				Firewall: serverconf.Firewall(firewall),
				Style:    serverconf.Style(style),
				OpenFor:  time.Duration(openFor) * time.Second,
				Sbin:     sbin,
				Port:     a.serverConfigPort(cmd, name, p, port),
			}
			pt := serverconf.Part(part)
			// Warnings wait until the configuration has rendered, so that
			// bad input gets its one error line and nothing else.
			warns, err := serverconf.ForProfile(&cfg, p, pt)
			if err != nil {
				return err
			}
			var out bytes.Buffer
			if err := serverconf.Render(&out, cfg, pt); err != nil {
				return asUsage(err)
			}
			for _, w := range warns {
				warnf("%s", w)
			}
			_, err = out.WriteTo(cmd.OutOrStdout())
			return err
		},
	}
	f := c.Flags()
	f.StringVar(&firewall, "firewall", "iptables", "server firewall: iptables (with ip6tables) or nftables")
	f.Uint16Var(&port, "port", 0, "guarded TCP `PORT` (default: the profile's wait port, else the ssh Port, else 22)")
	f.StringVar(&part, "part", "all", "what to print: knockd, firewall or all")
	f.StringVar(&style, "style", "pair", "pair (open and close doors) or timed (the open door also closes after --open-for)")
	f.IntVar(&openFor, "open-for", 0, "seconds a timed door (or an nftables set element) stays open (default 30; 3600 for nftables pairs)")
	f.StringVar(&sbin, "sbin", serverconf.DefaultSbin, "absolute `DIR` of iptables, ip6tables and nft on the server")
	_ = c.RegisterFlagCompletionFunc("firewall", cobra.FixedCompletions([]string{"iptables", "nftables"}, cobra.ShellCompDirectiveNoFileComp))
	_ = c.RegisterFlagCompletionFunc("part", cobra.FixedCompletions([]string{"knockd", "firewall", "all"}, cobra.ShellCompDirectiveNoFileComp))
	_ = c.RegisterFlagCompletionFunc("style", cobra.FixedCompletions([]string{"pair", "timed"}, cobra.ShellCompDirectiveNoFileComp))
	return c
}

// serverConfigPort picks the guarded port: --port, else the profile's
// wait port, else the ssh Port of a Host entry for the name, else 22.
func (a *app) serverConfigPort(cmd *cobra.Command, name string, p *profiles.Profile, flag uint16) uint16 {
	if cmd.Flags().Changed("port") && flag != 0 {
		return flag
	}
	if p.WaitPort != 0 {
		return p.WaitPort
	}
	if sh, err := door.SSHHost(cmd.Context(), name, door.Options{SSHConfig: a.sshConfig}); err == nil && sh.HasEntry && sh.Port != 0 {
		return sh.Port
	}
	return serverconf.DefaultPort
}
