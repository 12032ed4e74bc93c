package main

import (
	"io"
	"slices"

	"github.com/spf13/cobra"
)

// completionShells are the shells `knock completion` writes scripts for,
// and the names of the committed scripts in completions/.
var completionShells = []string{"bash", "zsh", "fish", "powershell"}

// newCompletionCmd replaces cobra's default completion command (cobra adds
// its own only when the tree has none), so that the help says where our
// packages install the scripts and a wrong shell is a usage error.
func newCompletionCmd() *cobra.Command {
	var noDesc bool
	c := &cobra.Command{
		Use:                   "completion bash|zsh|fish|powershell",
		Short:                 "Print the shell completion script",
		ValidArgs:             completionShells,
		DisableFlagsInUseLine: true,
		Args: func(_ *cobra.Command, args []string) error {
			switch {
			case len(args) == 0:
				return usagef("no shell given; usage: knock completion bash|zsh|fish|powershell")
			case len(args) > 1:
				return usagef("one shell only (got %d arguments)", len(args))
			case !slices.Contains(completionShells, args[0]):
				return usagef("unknown shell %q (want bash, zsh, fish or powershell)", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return writeCompletion(cmd.OutOrStdout(), cmd.Root(), args[0], !noDesc)
		},
	}
	c.Flags().BoolVar(&noDesc, "no-descriptions", false, "complete without descriptions")
	return c
}

// writeCompletion writes root's completion script for shell; the scripts
// call `knock __complete ...` for dynamic values such as host names.
func writeCompletion(w io.Writer, root *cobra.Command, shell string, desc bool) error {
	switch shell {
	case "bash":
		return root.GenBashCompletionV2(w, desc)
	case "zsh":
		if desc {
			return root.GenZshCompletion(w)
		}
		return root.GenZshCompletionNoDesc(w)
	case "fish":
		return root.GenFishCompletion(w, desc)
	case "powershell":
		if desc {
			return root.GenPowerShellCompletionWithDesc(w)
		}
		return root.GenPowerShellCompletion(w)
	}
	return usagef("unknown shell %q", shell)
}
