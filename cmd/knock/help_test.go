package main

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// Every command that takes arguments or has subcommands has a help file,
// and every help file belongs to a command.
func TestHelpFiles(t *testing.T) {
	used := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Name() == "help" || c.Hidden {
			return
		}
		name := helpFile(c)
		if _, err := fs.Stat(helpFiles, name); err != nil {
			t.Errorf("%s has no %s", c.CommandPath(), name)
		} else if strings.TrimSpace(c.Long) == "" {
			t.Errorf("%s: %s gives no description", c.CommandPath(), name)
		}
		used[name] = true
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(newRootCmd())
	files, _ := fs.Glob(helpFiles, "help/*.md")
	for _, f := range files {
		if !used[f] {
			t.Errorf("%s belongs to no command", f)
		}
	}
}
