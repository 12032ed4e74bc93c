//go:build linux

package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/a-knock/knock/internal/lab"
)

// TestKeyringSPAAndOTPLab keeps an SPA profile and a one-time profile in a
// real Secret Service (gnome-keyring on a private bus): their keys and
// secret stay out of every plaintext file, and the one-time counter
// advances atomically under concurrent knocks with the keyring store.
func TestKeyringSPAAndOTPLab(t *testing.T) {
	lab.Require(t, "gnome-keyring-daemon", "dbus-run-session", "secret-tool")
	kr := lab.StartKeyring(t)
	env := append(append([]string(nil), kr.Env...), envSPAKey+"="+testSPAKey, envSPAHMACKey+"="+testSPAHMAC)
	knock := func(want int, args ...string) (string, string) {
		t.Helper()
		stdout, stderr, code := runKnockBin(t, env, args...)
		if code != want {
			t.Fatalf("knock %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, stdout, stderr)
		}
		return stdout, stderr
	}

	// SPA: keys from the environment into the keyring.
	_, se := knock(0, "spa", "add", "fw", "--host", "127.0.0.1", "-A", "tcp/22", "--store", "keyring")
	if !strings.Contains(se, "keyring") {
		t.Errorf("spa add did not use the keyring: %s", se)
	}
	out, _ := knock(0, "profile", "show", "fw")
	if strings.Contains(out, testSPAKey) || strings.Contains(out, testSPAHMAC) {
		t.Errorf("profile show prints SPA keys without --reveal:\n%s", out)
	}
	out, _ = knock(0, "fw", "--dry-run")
	if !strings.Contains(out, "would send an SPA packet") {
		t.Errorf("knock fw --dry-run: %s", out)
	}

	// One-time: secret and counter in the keyring, concurrent knocks.
	knock(0, "otp", "init", "vpn", "--host", "127.0.0.1", "--store", "keyring")
	first, _ := knock(0, "otp", "server-file", "vpn", "--count", "1")
	const n = 4
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, codes[i] = runKnockBin(t, env, "vpn")
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != 0 {
			t.Errorf("concurrent knock %d: exit %d", i, c)
		}
	}
	status, _ := knock(0, "otp", "status", "vpn")
	if !strings.Contains(status, "counter  4\n") {
		t.Errorf("after %d concurrent knocks:\n%s", n, status)
	}

	// Nothing secret in plaintext under HOME: not the SPA keys, not the
	// ports of a one-time sequence.
	secrets := []string{testSPAKey, testSPAHMAC}
	for _, k := range strings.Split(strings.TrimSpace(first), ",") {
		port, _, _ := strings.Cut(k, ":")
		secrets = append(secrets, ":"+port, port+",", port+":")
	}
	filepath.WalkDir(kr.Home, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.Contains(path, "keyrings") {
			return nil
		}
		b, _ := os.ReadFile(path)
		for _, s := range secrets {
			if strings.Contains(string(b), s) {
				t.Errorf("%s holds a secret (%q) in plaintext", path, s)
			}
		}
		if strings.Contains(string(b), `"secret"`) || strings.Contains(string(b), "key_base64") {
			t.Errorf("%s holds a secret field in plaintext:\n%s", path, b)
		}
		return nil
	})
}
