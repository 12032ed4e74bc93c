package main

// Helpers of the lab tests (*_lab_test.go, Linux only) that run the knock
// binary built by knockBin.

import (
	"path/filepath"
	"strings"
	"testing"
)

// An SPA key pair for tests (never used anywhere else).
const (
	testSPAKey  = "wzNP62oPPgEc+kXDPQLHPOayQBuNbYUTPP+QrErNDmg="
	testSPAHMAC = "Yh+xizBnl6FotC5ec7FanVGClRMlsOAPh2u6eovnerfBVKwaVKzjGoblFMHMc593TNyi0dWn4opLoTIV9q/ttg=="
)

func runKnockBin(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runKnockBinIn(t, env, "", args...)
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
