package main

// `knock profile add --generate` hooks into newProfileAddCmd (profile.go):
// profileAddHook registers --generate, --length and --proto, and the
// function it returns fills p.Open, p.Close and p.SeqTimeout when
// --generate is given, in which case add does not read sequences from
// stdin.

import (
	"github.com/spf13/cobra"

	"github.com/a-knock/knock/internal/gen"
	"github.com/a-knock/knock/internal/profiles"
	"github.com/a-knock/knock/internal/serverconf"
)

// profileAddHook adds the --generate flags to `knock profile add` and
// returns the function that fills a new profile from them.
var profileAddHook = func(c *cobra.Command) func(cmd *cobra.Command, p *profiles.Profile) (bool, error) {
	var (
		generate bool
		length   int
		proto    string
	)
	f := c.Flags()
	f.BoolVar(&generate, "generate", false, "make up a random sequence (CSPRNG) and its reverse as the close sequence")
	f.IntVar(&length, "length", gen.DefaultLength, "with --generate: number of knocks (3..32)")
	f.StringVar(&proto, "proto", "tcp", "with --generate: tcp, udp or mixed")
	_ = c.RegisterFlagCompletionFunc("proto", cobra.FixedCompletions([]string{"tcp", "udp", "mixed"}, cobra.ShellCompDirectiveNoFileComp))
	return func(cmd *cobra.Command, p *profiles.Profile) (bool, error) {
		ch := cmd.Flags().Changed
		if !generate {
			if ch("length") || ch("proto") {
				return false, usagef("--length and --proto need --generate")
			}
			return false, nil
		}
		if ch("open") || ch("close") {
			return false, usagef("--generate makes both sequences; drop --open and --close")
		}
		s, err := gen.Sequence(length, proto)
		if err != nil {
			return false, asUsage(err)
		}
		p.Open = s.String()
		p.Close = s.Reverse().String()
		if !ch("seq-timeout") {
			p.SeqTimeout = int(serverconf.SeqTimeoutFor(len(s)).Seconds())
		}
		noticef("generated a %d-knock %s sequence and its reverse as the close sequence (knock profile show %s --reveal shows them)", len(s), proto, p.Name)
		hintf("give the server its doors and firewall rules: knock profile server-config %s", p.Name)
		return true, nil
	}
}
