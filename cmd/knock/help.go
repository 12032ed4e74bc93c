package main

import (
	"embed"
	"strings"

	"github.com/spf13/cobra"
)

// helpFiles hold each command's reference text: help/knock-ssh.md is the
// Long text of knock ssh, and what follows its "## Examples" line its
// Example. knock help, the man page and docs/ are made from them.
//
//go:embed help/*.md
var helpFiles embed.FS

// examplesHeading splits a help file into description and examples.
const examplesHeading = "\n## Examples\n\n"

// attachHelp gives every command of the tree its help file.
func attachHelp(c *cobra.Command) {
	if b, err := helpFiles.ReadFile(helpFile(c)); err == nil {
		long, example, _ := strings.Cut(string(b), examplesHeading)
		// Text a constructor added (knock spa's flag list) follows.
		c.Long = strings.TrimRight(long, "\n") + c.Long
		c.Example = strings.TrimRight(example, "\n")
	}
	for _, sub := range c.Commands() {
		attachHelp(sub)
	}
}

// helpFile names c's help file: "knock spa send" reads help/knock-spa-send.md.
func helpFile(c *cobra.Command) string {
	return "help/" + strings.ReplaceAll(c.CommandPath(), " ", "-") + ".md"
}
