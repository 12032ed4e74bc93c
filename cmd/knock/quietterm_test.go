//go:build linux

package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestNoTerminalQuery runs knock on a pseudo-terminal that never answers
// (script(1) with no terminal behind it). bubbletea v1's package init
// would ask it for its background colour and wait 5 seconds; knock must
// start without asking anything.
func TestNoTerminalQuery(t *testing.T) {
	script, err := exec.LookPath("script")
	if err != nil {
		t.Fatalf("script(1) from util-linux is needed: %v", err)
	}
	bin := knockBin(t)
	for _, args := range []string{"--version", "--dry-run 127.0.0.1 7000"} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		c := exec.CommandContext(ctx, script, "-qc", bin+" "+args, "/dev/null")
		c.Env = append(c.Environ(), "TERM=xterm-256color")
		start := time.Now()
		out, err := c.CombinedOutput()
		took := time.Since(start)
		cancel()
		if err != nil {
			t.Fatalf("knock %s on a pty: %v: %q", args, err, out)
		}
		if strings.Contains(string(out), "\x1b]11;?") || strings.Contains(string(out), "\x1b[6n") {
			t.Errorf("knock %s queried the terminal: %q", args, out)
		}
		// The query would wait termenv's 5-second timeout for an answer.
		if took > 4*time.Second {
			t.Errorf("knock %s took %s on a terminal that does not answer", args, took)
		}
	}
}
