package main

import (
	"os"

	"golang.org/x/term"
)

// isInteractive reports whether stdin and stdout are both terminals.
func isInteractive() bool {
	return term.IsTerminal(int(os.Stdin.Fd())) && term.IsTerminal(int(os.Stdout.Fd()))
}
