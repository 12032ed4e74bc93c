package main

// `knock profile add --generate`: newProfileAddCmd (profile.go) registers
// these flags, and fill makes up the sequences when --generate is given,
// in which case add does not read them from stdin.

import (
	"github.com/spf13/cobra"

	"github.com/a-knock/knock/internal/gen"
	"github.com/a-knock/knock/internal/profiles"
	"github.com/a-knock/knock/internal/serverconf"
)

// generateFlags are the --generate flags of `knock profile add`.
type generateFlags struct {
	generate bool
	length   int
	proto    string
}

func (g *generateFlags) register(c *cobra.Command) {
	f := c.Flags()
	f.BoolVar(&g.generate, "generate", false, "make up a random sequence (CSPRNG) and its reverse as the close sequence")
	f.IntVar(&g.length, "length", gen.DefaultLength, "with --generate: number of knocks (3..32)")
	f.StringVar(&g.proto, "proto", "tcp", "with --generate: tcp, udp or mixed")
	_ = c.RegisterFlagCompletionFunc("proto", cobra.FixedCompletions([]string{"tcp", "udp", "mixed"}, cobra.ShellCompDirectiveNoFileComp))
}

// fill makes up p's sequences when --generate is given, and reports
// whether it did.
func (g *generateFlags) fill(cmd *cobra.Command, p *profiles.Profile) (bool, error) {
	ch := cmd.Flags().Changed
	if !g.generate {
		if ch("length") || ch("proto") {
			return false, usagef("--length and --proto need --generate")
		}
		return false, nil
	}
	if ch("open") || ch("close") {
		return false, usagef("--generate makes both sequences; drop --open and --close")
	}
	s, err := gen.Sequence(g.length, g.proto)
	if err != nil {
		return false, asUsage(err)
	}
	p.Open = s.String()
	p.Close = s.Reverse().String()
	if !ch("seq-timeout") {
		p.SeqTimeout = int(serverconf.SeqTimeoutFor(len(s)).Seconds())
	}
	noticef("generated a %d-knock %s sequence and its reverse as the close sequence (knock profile show %s --reveal shows them)", len(s), g.proto, p.Name)
	hintf("give the server its doors and firewall rules: knock profile server-config %s", p.Name)
	return true, nil
}
