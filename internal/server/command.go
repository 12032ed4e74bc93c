package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"time"
)

// DefaultExecTimeout bounds how long one command may run.
const DefaultExecTimeout = 30 * time.Second

// ipToken is replaced by the knocker's address in every argument.
const ipToken = "%IP%"

// command is a start or stop command, split once into argv.
type command struct {
	argv []string
	text string // as written, for messages
}

// splitCommand splits a command line into words the way a POSIX shell
// would for plain words, single and double quotes and backslashes, and
// refuses everything else a shell would interpret (pipes, redirections,
// lists, substitutions, globs are not refused: they are passed literally),
// because knock serve runs commands without a shell. Write
// "/bin/sh -c '...'" explicitly to get one.
func splitCommand(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool // inside a word
		quote byte
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case quote == '"':
			switch {
			case c == '"':
				quote = 0
			case c == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0:
				i++
				cur.WriteByte(s[i])
			case c == '$' || c == '`':
				return nil, fmt.Errorf("%q at offset %d needs a shell, and commands run without one (wrap the command in /bin/sh -c '...')", c, i)
			default:
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote = c
			in = true
		case c == '\\':
			if i+1 < len(s) {
				i++
				cur.WriteByte(s[i])
			}
			in = true
		case c == ' ' || c == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		case strings.IndexByte("|&;<>()$`", c) >= 0:
			return nil, fmt.Errorf("%q at offset %d needs a shell, and commands run without one (wrap the command in /bin/sh -c '...')", c, i)
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote", quote)
	}
	if in {
		words = append(words, cur.String())
	}
	if len(words) == 0 {
		return nil, errors.New("empty command")
	}
	return words, nil
}

func parseCommand(s string) (*command, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	argv, err := splitCommand(s)
	if err != nil {
		return nil, err
	}
	return &command{argv: argv, text: s}, nil
}

// expand returns argv with %IP% replaced by ip. The address comes from a
// packet header and is formatted by netip, so it holds only hex digits,
// dots and colons: it cannot smuggle a word or an option boundary.
func (c *command) expand(ip netip.Addr) []string {
	out := make([]string, len(c.argv))
	for i, w := range c.argv {
		out[i] = strings.ReplaceAll(w, ipToken, ip.String())
	}
	return out
}

// run runs the command for ip with a timeout and returns a one-line
// summary of its outcome.
func (c *command) run(ctx context.Context, ip netip.Addr, timeout time.Duration) error {
	if !ip.IsValid() {
		return fmt.Errorf("refusing to run a command for address %q", ip)
	}
	argv := c.expand(ip)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.WaitDelay = time.Second
	var out bytes.Buffer
	cmd.Stdout = &limitedBuffer{b: &out, n: 2048}
	cmd.Stderr = cmd.Stdout
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("%s: killed after %s", argv[0], timeout)
	}
	if err != nil {
		msg := strings.Join(strings.Fields(out.String()), " ")
		if msg != "" {
			return fmt.Errorf("%s: %v: %s", argv[0], err, msg)
		}
		return fmt.Errorf("%s: %v", argv[0], err)
	}
	return nil
}

// limitedBuffer keeps the first n bytes written and discards the rest.
type limitedBuffer struct {
	b *bytes.Buffer
	n int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.n - l.b.Len(); room > 0 {
		if len(p) > room {
			l.b.Write(p[:room])
		} else {
			l.b.Write(p)
		}
	}
	return len(p), nil
}
