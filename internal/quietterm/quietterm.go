// Package quietterm stops the terminal query that bubbletea v1 makes in
// its package init. That init asks Lip Gloss whether the background is
// dark, and Lip Gloss asks the terminal (OSC 11 plus a cursor report) and
// waits for the answer: a round trip on every start of every knock
// command, and a 5-second hang with escape codes on the screen in a
// terminal that does not answer. Deciding the answer first, from
// $COLORFGBG (what termenv itself falls back to), leaves nothing to ask.
//
// This works only because Go initialises packages in import-path order
// once their imports are ready: this package's path
// (github.com/a-knock/...) sorts before github.com/charmbracelet/bubbletea.
// cmd/knock imports it, and a test there checks that knock never queries
// the terminal.
package quietterm

import (
	"os"
	"strconv"
	"strings"

	"github.com/charmbracelet/lipgloss"
)

func init() {
	lipgloss.SetHasDarkBackground(Dark(os.Getenv("COLORFGBG")))
}

// Dark reads a $COLORFGBG value ("15;0": foreground;background, in the
// 16 ANSI colours) and reports whether the background is dark. Without a
// usable value it assumes a dark background, as most terminals have.
func Dark(colorfgbg string) bool {
	parts := strings.Split(colorfgbg, ";")
	bg, err := strconv.Atoi(parts[len(parts)-1])
	if err != nil || bg < 0 || bg > 15 {
		return true
	}
	return bg < 7 || bg == 8
}
