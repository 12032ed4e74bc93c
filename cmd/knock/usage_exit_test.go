package main

import (
	"os"
	"strings"
	"testing"
)

// Every kind of bad usage exits 2 with one line on stderr, including the
// errors cobra makes itself (an argument that names no subcommand, an
// argument to a command that takes none) and the picker without a
// terminal, which must not draw anything.
func TestUsageErrorsExit2(t *testing.T) {
	home := t.TempDir()
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + home + "/.config",
		"XDG_STATE_HOME=" + home + "/.state", "DBUS_SESSION_BUS_ADDRESS=", "KNOCK_SSH_CONFIG=" + os.DevNull}
	for _, tc := range []struct {
		args []string
		want string // in the one line on stderr
	}{
		{[]string{"profile", "bogus"}, `"bogus"`},
		{[]string{"profile", "list", "extra"}, `"extra"`},
		{[]string{"pick", "extra"}, `"extra"`},
		{[]string{"demo", "extra"}, `"extra"`},
		{[]string{"serve", "extra"}, `"extra"`},
		{[]string{"profile", "import"}, "FILE"},
		{[]string{"pick"}, "interactive terminal"},
	} {
		t.Run(strings.Join(tc.args, "_"), func(t *testing.T) {
			// The test's stdin is not a terminal (go test gives /dev/null).
			stdout, stderr, code := runKnockBin(t, env, tc.args...)
			if code != exitUsage {
				t.Errorf("exit code %d, want %d; stderr: %q", code, exitUsage, stderr)
			}
			lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "knock: error: ") || !strings.Contains(lines[0], tc.want) {
				t.Errorf("stderr is not one error line naming %s: %q", tc.want, stderr)
			}
			if strings.Contains(stderr, "\x1b") || stdout != "" {
				t.Errorf("terminal output without a terminal: stdout %q, stderr %q", stdout, stderr)
			}
		})
	}
}

// A UDP payload that no datagram can carry is bad input, not a network
// failure, and is refused before anything is sent.
func TestPayloadTooLong(t *testing.T) {
	for _, tc := range []struct {
		n    int
		code int
	}{{maxPayload, exitOK}, {maxPayload + 1, exitUsage}} {
		_, stderr, code := runKnockBin(t, nil, "--dry-run", "-u", "--payload", strings.Repeat("a", tc.n), "127.0.0.1", "7000")
		if code != tc.code {
			t.Errorf("payload of %d bytes: exit %d, want %d: %s", tc.n, code, tc.code, stderr)
		}
		if tc.code == exitUsage && (strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "--payload is 65508 bytes")) {
			t.Errorf("payload of %d bytes: want one line naming the size: %q", tc.n, stderr)
		}
	}
}
