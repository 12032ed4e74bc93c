package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/a-knock/knock/internal/history"
	"github.com/a-knock/knock/internal/termshot"
)

// picture is one image of docs/img: a program run in tmux, and how to
// make its screen the same from one run to the next.
type picture struct {
	file       string
	title      string
	cols, rows int
	// setup prepares the sandbox home and returns the command to run.
	setup func(s *sandbox) ([]string, error)
	ready func(text string) bool
	// normalise replaces what changes from run to run (free ports,
	// durations) in the captured screen.
	normalise func(screen string) string
}

var picturesToMake = []picture{
	{
		file: "docs/img/demo.svg", title: "knock demo", cols: 120, rows: 20,
		setup: func(s *sandbox) ([]string, error) {
			return []string{"sh", "-c", `printf '\033[1;32m$\033[0m knock demo\n'; exec knock demo`}, nil
		},
		ready:     func(t string) bool { return strings.Contains(t, "all steps passed") },
		normalise: normaliseDemo,
	},
	{
		file: "docs/img/pick.svg", title: "knock pick", cols: 100, rows: 14,
		setup: setupPick,
		ready: func(t string) bool {
			return strings.Contains(t, "office") && strings.Contains(t, "q quit")
		},
	},
}

// pictures captures every picture and compares it with the committed one.
func pictures(ctx context.Context, bin string, write bool) (stale []string, err error) {
	for _, p := range picturesToMake {
		svg, err := p.make(ctx, bin)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.file, err)
		}
		s, err := compare(p.file, svg, write)
		if err != nil {
			return nil, err
		}
		if s {
			stale = append(stale, p.file+" (the program's screen has changed)")
		}
	}
	return stale, nil
}

func (p picture) make(ctx context.Context, bin string) ([]byte, error) {
	s, err := newSandbox(bin)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(s.dir)
	args, err := p.setup(s)
	if err != nil {
		return nil, err
	}
	screen, err := termshot.Capture(ctx, termshot.Shot{
		Args: args, Env: s.env, Dir: s.home, Cols: p.cols, Rows: p.rows,
		Ready: p.ready, Settle: 500 * time.Millisecond,
	})
	if err != nil {
		return nil, err
	}
	if p.normalise != nil {
		screen = p.normalise(screen)
	}
	var b strings.Builder
	if err := termshot.SVG(&b, termshot.Parse(screen), termshot.Options{Title: p.title, Cols: p.cols, Rows: p.rows}); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}

// sandbox is a temporary home directory with knock in PATH: the file
// store, no keyring (no D-Bus session), an ssh_config of its own.
type sandbox struct {
	dir, home string
	env       []string
}

func newSandbox(bin string) (*sandbox, error) {
	dir, err := os.MkdirTemp("", "gendocs-")
	if err != nil {
		return nil, err
	}
	s := &sandbox{dir: dir, home: filepath.Join(dir, "home")}
	binDir := filepath.Join(dir, "bin")
	for _, d := range []string{s.home, binDir, filepath.Join(s.home, ".ssh")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	if err := os.Symlink(bin, filepath.Join(binDir, "knock")); err != nil {
		return nil, err
	}
	s.env = []string{
		"PATH=" + binDir + ":/usr/local/bin:/usr/bin:/bin",
		"HOME=" + s.home,
		"XDG_CONFIG_HOME=" + filepath.Join(s.home, ".config"),
		"XDG_STATE_HOME=" + filepath.Join(s.home, ".local", "state"),
		"TERM=xterm-256color",
		"COLORFGBG=15;0", // a dark background, without asking the terminal
		"LANG=C.UTF-8",
	}
	return s, nil
}

// knock runs knock in the sandbox with stdin.
func (s *sandbox) knock(stdin string, args ...string) error {
	cmd := exec.Command("knock", args...)
	cmd.Path = filepath.Join(s.dir, "bin", "knock")
	cmd.Env, cmd.Dir = s.env, s.home
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("knock %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// pickConfig is the sandbox's ~/.ssh/config for the picker's picture.
const pickConfig = `Host web
    HostName 198.51.100.2
Host db
    HostName 198.51.100.3
    Port 2222
Host bastion
    HostName bastion.example.com
    User admin
Host git.example.com
Host *.internal
    User ops
`

// setupPick makes the profiles the picker lists (a sequence, an SPA and a
// one-time profile, one with forwards) and a history of their last
// knocks, relative to now so that "3m ago" reads the same on every run.
func setupPick(s *sandbox) ([]string, error) {
	if err := os.WriteFile(filepath.Join(s.home, ".ssh", "config"), []byte(pickConfig), 0o600); err != nil {
		return nil, err
	}
	keys := filepath.Join(s.dir, "vpn.keys")
	steps := []struct {
		stdin string
		args  []string
	}{
		{"7000,8000,9000\n9000,8000,7000\n", []string{"profile", "add", "web", "--wait-port", "22", "--store", "file"}},
		{"31416,27182,16180:udp\n", []string{"profile", "add", "db", "--forward", "15432:5432", "--store", "file"}},
		{"", []string{"otp", "init", "office", "--host", "198.51.100.5", "--wait", "3389", "--store", "file"}},
	}
	for _, st := range steps {
		if err := s.knock(st.stdin, st.args...); err != nil {
			return nil, err
		}
	}
	cmd := exec.Command(filepath.Join(s.dir, "bin", "knock"), "spa", "keygen")
	cmd.Env = s.env
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("knock spa keygen: %w", err)
	}
	if err := os.WriteFile(keys, out, 0o600); err != nil {
		return nil, err
	}
	if err := s.knock("", "spa", "add", "vpn", "--host", "198.51.100.4", "-A", "tcp/22", "--key-file", keys, "--store", "file"); err != nil {
		return nil, err
	}

	now := time.Now()
	hist := map[string]history.Record{
		"web":    {OK: true, Summary: "port 22 open after 41ms", At: now.Add(-3*time.Minute - 30*time.Second)},
		"vpn":    {OK: true, Summary: "port 22 open after 1.2s", At: now.Add(-2*time.Hour - 30*time.Minute)},
		"office": {OK: false, Summary: "198.51.100.5:3389 after 13 round(s) in 10s: port did not open", At: now.Add(-26*time.Hour - 30*time.Minute)},
	}
	b, err := json.Marshal(hist)
	if err != nil {
		return nil, err
	}
	state := filepath.Join(s.home, ".local", "state", "knock")
	if err := os.MkdirAll(state, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(state, "history.json"), b, 0o600); err != nil {
		return nil, err
	}
	return []string{"knock", "pick"}, nil
}

var (
	// Ports in the demo's steps: "127.0.0.1:PORT", "PORT:tcp", "PORT/udp".
	demoPort     = regexp.MustCompile(`127\.0\.0\.1:(\d+)|\b(\d+)(?:[:/](?:tcp|udp))`)
	demoDuration = regexp.MustCompile(`\bin [0-9.]+(?:µs|ms|ns|s)\. Next:`)
)

// normaliseDemo gives the demo's free ports fixed values, in order of
// first appearance, and its duration a fixed one. The last line (the
// hint with fixed ports) is left alone.
func normaliseDemo(screen string) string {
	steps, rest, _ := strings.Cut(screen, "all steps passed")
	fixed := []string{"45833", "37475", "37933", "44879", "33111", "40213", "35729", "41097"}
	seen := map[string]string{}
	for _, m := range demoPort.FindAllStringSubmatch(steps, -1) {
		port := m[1] + m[2]
		if _, ok := seen[port]; !ok && len(seen) < len(fixed) {
			seen[port] = fixed[len(seen)]
		}
	}
	steps = regexp.MustCompile(`\b\d{2,5}\b`).ReplaceAllStringFunc(steps, func(n string) string {
		if v, ok := seen[n]; ok {
			return v
		}
		return n
	})
	return steps + demoDuration.ReplaceAllString("all steps passed"+rest, "in 80ms. Next:")
}
