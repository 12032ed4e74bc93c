//go:build linux

package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/a-knock/knock/internal/lab"
)

// TestCompletionLockedKeyring saves a profile in a real Secret Service
// (gnome-keyring), locks the keyring as a screen lock would, and completes
// host names: the profile must be offered, without an unlock prompt (a
// prompt nobody can answer would hang the shell), and ssh_config hosts too.
func TestCompletionLockedKeyring(t *testing.T) {
	kr := lab.StartKeyring(t)
	bin := lab.KnockBinary(t)
	env := append(os.Environ(), kr.Env...)
	knock := func(stdin string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c := exec.CommandContext(ctx, bin, args...)
		c.Env = env
		c.Stdin = strings.NewReader(stdin)
		var stdout, stderr bytes.Buffer
		c.Stdout, c.Stderr = &stdout, &stderr
		if err := c.Run(); err != nil {
			t.Fatalf("knock %s: %v (context: %v)\n%s", strings.Join(args, " "), err, ctx.Err(), stderr.String())
		}
		return stdout.String()
	}

	if err := os.MkdirAll(filepath.Join(kr.Home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(kr.Home, ".ssh", "config"), []byte("Host jump\n    HostName 198.51.100.2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	knock("7000,8000,9000\n", "profile", "add", "vault", "--host", "198.51.100.2", "--store", "keyring")
	if out, err := kr.SecretTool("", "search", "--all", "service", "knock"); err != nil || !strings.Contains(out, "profile.vault.") {
		t.Fatalf("the profile is not in the keyring: %v\n%s", err, out)
	}

	kr.Lock(t)
	for _, path := range [][]string{nil, {"ssh"}, {"close"}, {"profile", "show"}} {
		args := append(append([]string{"__complete"}, path...), "")
		got := completionNames(knock("", args...))
		if !strings.Contains(strings.Join(got, " "), "vault") {
			t.Errorf("knock %s: no profile name from the locked keyring; got %q", strings.Join(args, " "), got)
		}
		if len(path) == 0 || path[0] == "ssh" {
			if !strings.Contains(strings.Join(got, " "), "jump") {
				t.Errorf("knock %s: no ssh_config host; got %q", strings.Join(args, " "), got)
			}
		}
	}
}
