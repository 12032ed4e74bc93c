// Package prompt reads secrets (knock sequences) from the user without
// putting them in argv or on the screen: at a terminal, a prompt on
// stderr and a line typed without echo; otherwise one line of stdin per
// secret asked for, so that scripts can pipe them in.
package prompt

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/a-knock/knock/internal/exit"
)

// maxInput bounds what is read from a non-terminal stdin.
const maxInput = 64 << 10

// Reader asks for secrets one at a time; it reads stdin, prompting on
// stderr.
type Reader struct {
	r *bufio.Reader
}

// Line asks for one secret called what ("open sequence") and returns it
// without surrounding space. Without a terminal, a missing line is bad
// input.
func (s *Reader) Line(what string) (string, error) {
	if term.IsTerminal(int(os.Stdin.Fd())) {
		fmt.Fprintf(os.Stderr, "%s (not echoed): ", what)
		b, err := term.ReadPassword(int(os.Stdin.Fd()))
		fmt.Fprintln(os.Stderr)
		if err != nil {
			return "", fmt.Errorf("read %s: %w", what, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	if s.r == nil {
		s.r = bufio.NewReader(io.LimitReader(os.Stdin, maxInput))
	}
	l, err := s.r.ReadString('\n')
	if err != nil && (err != io.EOF || l == "") {
		return "", exit.Usagef("read %s from stdin: no line", what)
	}
	return strings.TrimSpace(l), nil
}
