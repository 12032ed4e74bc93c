package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeBadInput checks that each kind of bad input to knock serve
// gets one line naming the file and line, and a non-zero exit.
func TestServeBadInput(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds the binary")
	}
	dir := t.TempDir()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		args []string
		code int
		want string // substring of the single stderr line
	}{
		{"missing file", []string{"-c", filepath.Join(dir, "nope.conf")}, 2, "nope.conf: no such file"},
		{"unknown key", []string{"-c", write("k.conf", "[d]\n  sequence = 7000\n  sequnce = 7001\n")}, 2, "k.conf:3: sequnce: unknown key in door [d]"},
		{"port range", []string{"-c", write("p.conf", "[d]\n  sequence = 7000,70000\n")}, 2, `p.conf:2: sequence: invalid port "70000"`},
		{"unknown flag", []string{"-c", write("f.conf", "[d]\n sequence = 7000\n tcpflags = syn,xmas\n")}, 2, `f.conf:3: tcpflags: unknown TCP flag "xmas"`},
		{"malformed line", []string{"-c", write("m.conf", "[options]\n  logfile /tmp/x\n[d]\nsequence = 1\n")}, 2, `m.conf:2: logfile /tmp/x: missing "="`},
		{"outside section", []string{"-c", write("o.conf", "sequence = 1\n")}, 2, `o.conf:1: sequence: setting outside any section`},
		{"shell syntax", []string{"--listen", "-c", write("s.conf", "[d]\nsequence = 7000\ncommand = iptables -I INPUT -s %IP% -j ACCEPT; echo\n")}, 2, `s.conf:3: start_command: ';' at offset`},
		{"port in use", []string{"--listen", "--bind", "127.0.0.1", "-c", write("u.conf", fmt.Sprintf("[d]\n\n  sequence = %d\n", busyPort))}, 1,
			fmt.Sprintf("u.conf:3: sequence: cannot listen on %d/tcp: ", busyPort)},
		{"bad gate", []string{"--listen", "--gate", "2222", "-c", write("g.conf", "[d]\nsequence = 7000\n")}, 2, `invalid gate "2222"`},
		{"listen and sniff", []string{"--listen", "--sniff", "-c", write("x.conf", "[d]\nsequence = 7000\n")}, 2, "--listen and --sniff exclude each other"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runKnockBin(t, nil, append([]string{"serve"}, tc.args...)...)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr %q", code, tc.code, stderr)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "knock: error: ") || !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q, want one line with %q", stderr, tc.want)
			}
			if stdout != "" {
				t.Errorf("stdout %q", stdout)
			}
		})
	}
}

func TestDemoBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds the binary")
	}
	stdout, stderr, code := runKnockBin(t, []string{"NO_COLOR=1"}, "demo")
	if code != 0 || !strings.Contains(stdout, "all steps passed") || stderr != "" {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}
