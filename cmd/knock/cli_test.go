package main

// Helpers for the Go tests that run a built knock binary as a user would:
// the lab tests (*_lab_test.go) and the terminal tests. CLI behaviour that
// needs neither root nor a real binary is in testdata/*.txtar (see
// script_test.go).

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

// An SPA key pair for tests (never used anywhere else).
const (
	testSPAKey  = "wzNP62oPPgEc+kXDPQLHPOayQBuNbYUTPP+QrErNDmg="
	testSPAHMAC = "Yh+xizBnl6FotC5ec7FanVGClRMlsOAPh2u6eovnerfBVKwaVKzjGoblFMHMc593TNyi0dWn4opLoTIV9q/ttg=="
)

var (
	testBinOnce sync.Once
	testBin     string
	testBinErr  error
)

// knockBin builds the command once for tests that run it as a user would.
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

// profileCLI runs the knock binary as a user with a fresh HOME and no
// keyring (no D-Bus session bus), so profiles go to the file store.
type profileCLI struct {
	t    *testing.T
	home string
	env  []string
}

func newProfileCLI(t *testing.T, extraEnv ...string) *profileCLI {
	home := t.TempDir()
	env := []string{
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"DBUS_SESSION_BUS_ADDRESS=",
		"XDG_RUNTIME_DIR=",
		"KNOCK_SSH_CONFIG=",
	}
	return &profileCLI{t: t, home: home, env: append(env, extraEnv...)}
}

func (c *profileCLI) run(stdin string, args ...string) (stdout, stderr string, code int) {
	c.t.Helper()
	return runKnockBinIn(c.t, c.env, stdin, args...)
}

// want runs knock and checks the exit code, and that a failure is one
// line on stderr.
func (c *profileCLI) want(code int, stdin string, args ...string) (string, string) {
	c.t.Helper()
	so, se, got := c.run(stdin, args...)
	if got != code {
		c.t.Fatalf("knock %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), got, code, so, se)
	}
	if code != 0 {
		errs := 0
		for _, l := range strings.Split(se, "\n") {
			if strings.HasPrefix(l, "knock: error: ") {
				errs++
			}
		}
		if errs != 1 {
			c.t.Fatalf("knock %s: want one error line, stderr:\n%s", strings.Join(args, " "), se)
		}
	}
	return so, se
}
