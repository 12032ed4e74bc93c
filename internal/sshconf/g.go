package sshconf

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// GTimeout bounds one `ssh -G` run.
const GTimeout = 5 * time.Second

// GResult is what knock needs from `ssh -G`: the configuration ssh will
// use for a host, Match blocks included.
type GResult struct {
	HostName     string
	Port         uint16
	User         string
	Family       string // "any", "inet" or "inet6"
	HostKeyAlias string // "" when none
}

// G runs `ssh -G [args...] alias` and parses what it prints. env is the
// child's environment (nil: this process's); it matters because ssh -G
// runs `Match exec` commands.
func G(ctx context.Context, sshPath string, args []string, alias string, env []string) (GResult, error) {
	ctx, cancel := context.WithTimeout(ctx, GTimeout)
	defer cancel()
	c := exec.CommandContext(ctx, sshPath, append(append([]string{"-G"}, args...), alias)...)
	c.Env = env
	var out bytes.Buffer
	c.Stdout = &out
	c.Stderr = io.Discard
	if err := c.Run(); err != nil {
		return GResult{}, err
	}
	return ParseG(out.Bytes()), nil
}

// ParseG reads the "keyword value" lines `ssh -G` prints; keywords are
// lower case there. Unknown or malformed lines are skipped.
func ParseG(b []byte) GResult {
	var g GResult
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		v = strings.TrimSpace(v)
		if !ok || v == "" {
			continue
		}
		switch k {
		case "hostname":
			g.HostName = v
		case "port":
			if n, err := strconv.Atoi(v); err == nil && n > 0 && n < 65536 {
				g.Port = uint16(n)
			}
		case "user":
			g.User = v
		case "addressfamily":
			switch v {
			case "any", "inet", "inet6":
				g.Family = v
			}
		case "hostkeyalias":
			if v != "none" {
				g.HostKeyAlias = v
			}
		}
	}
	return g
}
