package termshot

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Shot describes a program to capture.
type Shot struct {
	Args       []string // the program and its arguments
	Env        []string // its whole environment; TERM included
	Dir        string   // its working directory
	Cols, Rows int      // the terminal's size

	// Ready reports whether the screen (its text, without styles) shows
	// what the picture is for. Capture then waits until the screen has
	// not changed for Settle.
	Ready  func(text string) bool
	Settle time.Duration
	// Timeout bounds the whole capture; 20 s when zero.
	Timeout time.Duration
}

// Capture runs s.Args in a detached tmux session of its own (a private
// server on a socket in a temporary directory, no configuration file, no
// status line) and returns the screen as `tmux capture-pane -e -p` prints
// it once it is ready and settled. The program keeps its terminal until
// the capture is taken, even when it exits first; then the session and
// the server are killed.
func Capture(ctx context.Context, s Shot) (string, error) {
	if len(s.Args) == 0 {
		return "", errors.New("termshot: no program to run")
	}
	tmuxPath, err := exec.LookPath("tmux")
	if err != nil {
		return "", fmt.Errorf("termshot: tmux is needed to capture a screen: %w", err)
	}
	timeout := s.Timeout
	if timeout == 0 {
		timeout = 20 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	dir, err := os.MkdirTemp("", "termshot-")
	if err != nil {
		return "", fmt.Errorf("termshot: %w", err)
	}
	defer os.RemoveAll(dir)
	id := make([]byte, 4)
	_, _ = rand.Read(id)
	sock := filepath.Join(dir, "tmux-"+hex.EncodeToString(id))
	conf := filepath.Join(dir, "tmux.conf")
	// No status line, so the pane is the whole window; the program's
	// screen stays after it exits, until the capture.
	if err := os.WriteFile(conf, []byte("set -g status off\nset -g remain-on-exit on\nset -g remain-on-exit-format ''\n"), 0o600); err != nil {
		return "", fmt.Errorf("termshot: %w", err)
	}
	tmux := func(args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, tmuxPath, append([]string{"-S", sock, "-f", conf}, args...)...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "TMUX_TMPDIR=" + dir, "TERM=xterm-256color"}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return out, fmt.Errorf("termshot: tmux %s: %w: %s", args[0], err, strings.TrimSpace(stderr.String()))
		}
		return out, nil
	}
	// The program runs through env -i, so it sees s.Env and nothing of
	// the tmux server's environment.
	prog := append([]string{"env", "-i"}, s.Env...)
	prog = append(prog, s.Args...)
	args := []string{"new-session", "-d", "-s", "shot", "-x", strconv.Itoa(s.Cols), "-y", strconv.Itoa(s.Rows)}
	if s.Dir != "" {
		args = append(args, "-c", s.Dir)
	}
	if _, err := tmux(append(append(args, "--"), prog...)...); err != nil {
		return "", err
	}
	defer func() {
		kill := exec.Command(tmuxPath, "-S", sock, "kill-server")
		kill.Env = []string{"PATH=" + os.Getenv("PATH"), "TMUX_TMPDIR=" + dir}
		_ = kill.Run()
	}()

	var last string
	var since time.Time
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		out, err := tmux("capture-pane", "-e", "-p", "-N", "-t", "shot")
		if err != nil {
			return "", err
		}
		screen := string(out)
		switch {
		case screen != last:
			last, since = screen, time.Now()
		case s.Ready == nil || s.Ready(Parse(screen).Text()):
			if time.Since(since) >= s.Settle {
				return screen, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("termshot: %s did not show a ready screen within %s; it showed:\n%s", s.Args[0], timeout, Parse(last).Text())
		case <-tick.C:
		}
	}
}
