package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	testBinOnce sync.Once
	testBin     string
	testBinErr  error
)

// knockBin builds the command once for tests that run it as a user would
// (portable: no lab needed).
func knockBin(t *testing.T) string {
	t.Helper()
	testBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "knock-test-")
		if err != nil {
			testBinErr = err
			return
		}
		testBin = filepath.Join(dir, "knock")
		if runtime.GOOS == "windows" {
			testBin += ".exe"
		}
		c := exec.Command("go", "build", "-o", testBin, ".")
		c.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := c.CombinedOutput(); err != nil {
			testBinErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	if testBinErr != nil {
		t.Fatal(testBinErr)
	}
	return testBin
}

func runKnockBin(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runKnockBinIn(t, env, "", args...)
}

// runKnockBinIn runs the knock binary with extra environment and stdin,
// bounded to a minute, and returns its output and exit code.
func runKnockBinIn(t *testing.T, env []string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, knockBin(t), args...)
	c.Env = append(os.Environ(), env...)
	c.Stdin = strings.NewReader(stdin)
	var so, se bytes.Buffer
	c.Stdout, c.Stderr = &so, &se
	err := c.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return so.String(), se.String(), code
}

// TestBadInput checks that every kind of bad input gets one line naming
// the bad value, exit code 2, and no panic or usage dump.
func TestBadInput(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"127.0.0.1", "70000"}, `invalid port "70000"`},
		{[]string{"127.0.0.1", "0"}, `invalid port "0"`},
		{[]string{"127.0.0.1", "7000:icmp"}, `invalid protocol "icmp"`},
		{[]string{"127.0.0.1", "7000,,8000"}, `empty knock`},
		{[]string{"127.0.0.1", "7000", "--tcp-flags", "syn,bogus"}, `unknown TCP flag "bogus"`},
		{[]string{"127.0.0.1", "7000", "--method", "carrier-pigeon"}, `invalid method "carrier-pigeon"`},
		{[]string{"127.0.0.1", "7000", "--method", "connect", "--tcp-flags", "fin"}, `cannot be sent with --method connect`},
		{[]string{"host.invalid", "7000"}, `cannot resolve host "host.invalid"`},
		{[]string{"-d", "-5", "127.0.0.1", "7000"}, `invalid delay -5`},
		{[]string{"127.0.0.1", strings.Repeat("1000,", 33) + "1"}, `at most 32`},
		{[]string{"-4", "-6", "127.0.0.1", "7000"}, `-4 and -6 exclude each other`},
		{[]string{"--no-such-flag", "127.0.0.1", "7000"}, `unknown flag: --no-such-flag`},
		{[]string{"127.0.0.1", "7000", "--wait", "99999"}, `invalid argument "99999"`},
		{[]string{"127.0.0.1", "7000", "--timeout", "0", "--wait", "22"}, `invalid timeout 0`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			stdout, stderr, code := runKnockBin(t, nil, tt.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d; stderr: %s", code, exitUsage, stderr)
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "knock: error: ") || !strings.Contains(lines[0], tt.want) {
				t.Errorf("stderr = %q, want one line with %q", stderr, tt.want)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
		})
	}
}

func TestDryRun(t *testing.T) {
	stdout, stderr, code := runKnockBin(t, nil, "--dry-run", "-d", "250", "127.0.0.1", "7000,8000:udp", "9000", "--tcp-flags", "fin,!ack", "--wait", "22")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"+0ms tcp 127.0.0.1:7000 flags=fin via raw",
		"+250ms udp 127.0.0.1:8000 (1-byte datagram)",
		"+500ms tcp 127.0.0.1:9000 flags=fin via raw",
		"then wait up to 10s for tcp port 22",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("dry run lacks %q:\n%s", want, stdout)
		}
	}
}

func TestVersion(t *testing.T) {
	stdout, _, code := runKnockBin(t, nil, "--version")
	if code != 0 || !strings.HasPrefix(stdout, "knock ") || !strings.Contains(stdout, "commit") {
		t.Fatalf("--version: %d %q", code, stdout)
	}
}
