package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

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

func (c *profileCLI) profilesFile() string {
	return filepath.Join(c.home, ".config", "knock", "profiles.json")
}

func TestProfileFileStoreCLI(t *testing.T) {
	c := newProfileCLI(t)
	_, se := c.want(0, "", "profile", "add", "srv", "--host", "127.0.0.1", "--open", "7000,8000:udp,9000", "--close", "9000,8000:udp,7000", "--delay", "50")
	if !strings.Contains(se, "using the file store") || strings.Count(strings.TrimSpace(se), "\n") != 1 {
		t.Errorf("no one-line fallback notice:\n%s", se)
	}
	// Sequences from stdin, not argv.
	c.want(0, "7101,7102\n7102,7101\n", "profile", "add", "piped", "--host", "127.0.0.1")
	so, _ := c.want(0, "", "profile", "list")
	if !strings.Contains(so, "srv") || !strings.Contains(so, "piped") || !strings.Contains(so, "file") || strings.Contains(so, "7000") || strings.Contains(so, "7101") {
		t.Errorf("list:\n%s", so)
	}
	so, _ = c.want(0, "", "profile", "show", "srv")
	if strings.Contains(so, "7000") || !strings.Contains(so, "hidden") {
		t.Errorf("show is not redacted:\n%s", so)
	}
	so, _ = c.want(0, "", "profile", "show", "srv", "--reveal")
	if !strings.Contains(so, "7000:tcp,8000:udp,9000:tcp") {
		t.Errorf("show --reveal:\n%s", so)
	}
	so, _ = c.want(0, "", "profile", "show", "piped", "--reveal")
	if !strings.Contains(so, "7101:tcp,7102:tcp") || !strings.Contains(so, "7102:tcp,7101:tcp") {
		t.Errorf("piped sequences:\n%s", so)
	}
	// Play it (dry run: no network needed).
	so, _ = c.want(0, "", "srv", "--dry-run")
	if !strings.Contains(so, "127.0.0.1:8000 (1-byte") || !strings.Contains(so, "+100ms tcp 127.0.0.1:9000") {
		t.Errorf("dry run:\n%s", so)
	}
	so, _ = c.want(0, "", "close", "srv", "--dry-run", "--delay", "10")
	if !strings.Contains(so, "+0ms tcp 127.0.0.1:9000") || !strings.Contains(so, "+20ms tcp 127.0.0.1:7000") {
		t.Errorf("close dry run with --delay override:\n%s", so)
	}
	// Edit, then bad input: each one line, exit 2, nothing lost.
	c.want(0, "", "profile", "edit", "srv", "--wait-port", "2222", "--no-close")
	so, _ = c.want(0, "", "srv", "--dry-run")
	if !strings.Contains(so, "tcp port 2222") {
		t.Errorf("wait port not used:\n%s", so)
	}
	_, se = c.want(0, "", "close", "srv")
	if !strings.Contains(se, "no close sequence") {
		t.Errorf("close without sequence: %s", se)
	}
	c.want(2, "", "profile", "add", "srv", "--open", "1")
	c.want(2, "", "profile", "add", "bad name", "--open", "1")
	c.want(2, "", "profile", "add", "x", "--open", "70000")
	c.want(2, "", "profile", "show", "nope")
	c.want(2, "", "profile", "rm", "nope")
	c.want(2, "", "profile", "edit", "nope", "--host", "h")
	c.want(2, "", "nope")
	c.want(2, "", "close", "nope")
	c.want(2, "", "profile", "edit", "srv")
	c.want(1, "", "profile", "add", "k", "--open", "1", "--store", "keyring")
	so, _ = c.want(0, "", "profile", "show", "srv", "--reveal")
	if !strings.Contains(so, "7000:tcp,8000:udp,9000:tcp") {
		t.Errorf("profile damaged by bad input:\n%s", so)
	}
	// Export and import into another home.
	c.want(0, "", "profile", "export", "-o", filepath.Join(c.home, "export.json"))
	st, err := os.Stat(filepath.Join(c.home, "export.json"))
	if err != nil || (runtime.GOOS != "windows" && st.Mode().Perm() != 0o600) {
		t.Fatalf("export: %v %v", st, err)
	}
	d := newProfileCLI(t)
	d.want(0, "", "profile", "import", filepath.Join(c.home, "export.json"))
	so, _ = d.want(0, "", "profile", "list")
	if !strings.Contains(so, "srv") || !strings.Contains(so, "piped") {
		t.Errorf("imported:\n%s", so)
	}
	d.want(2, "", "profile", "import", filepath.Join(c.home, "export.json"))
	d.want(0, "", "profile", "import", filepath.Join(c.home, "export.json"), "--replace")
	// Remove.
	c.want(0, "", "profile", "rm", "srv")
	c.want(2, "", "srv")
}

func TestProfileFileSecurity(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("mode bits do not protect files on Windows (CI runs on Linux)")
	}
	c := newProfileCLI(t)
	c.want(0, "", "profile", "add", "srv", "--host", "127.0.0.1", "--open", "7000")
	st, err := os.Stat(c.profilesFile())
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("profiles file: %v %v", st, err)
	}
	before, _ := os.ReadFile(c.profilesFile())
	os.Chmod(c.profilesFile(), 0o644)
	_, se := c.want(exitUsage, "", "srv")
	if !strings.Contains(se, "chmod 600 "+c.profilesFile()) {
		t.Errorf("no fix named: %s", se)
	}
	c.want(exitUsage, "", "profile", "add", "other", "--open", "1")
	os.Chmod(c.profilesFile(), 0o600)
	// Corrupted: one line, exit 2 (bad input), and the file is left as it was.
	os.WriteFile(c.profilesFile(), before[:len(before)-5], 0o600)
	_, se = c.want(exitUsage, "", "profile", "list")
	if !strings.Contains(se, "corrupted") {
		t.Errorf("corrupt file: %s", se)
	}
	c.want(exitUsage, "", "profile", "add", "other", "--open", "1")
	if b, _ := os.ReadFile(c.profilesFile()); !bytes.Equal(b, before[:len(before)-5]) {
		t.Error("corrupt file was rewritten")
	}
	// Not a regular file: refused before it is opened.
	os.Remove(c.profilesFile())
	os.Mkdir(c.profilesFile(), 0o700)
	c.want(exitUsage, "", "profile", "list")
}

func TestProfileSSHConfigCLI(t *testing.T) {
	c := newProfileCLI(t)
	cfg := filepath.Join(c.home, "ssh_config")
	os.WriteFile(cfg, []byte(`Host myserver
  HostName 127.0.0.1
  Port 2222
  AddressFamily inet
Host noport
  HostName 127.0.0.2
`), 0o600)
	for _, name := range []string{"myserver", "noport", "nohost"} {
		c.want(0, "", "profile", "add", name, "--open", "7000,8000")
	}
	so, _ := c.want(0, "", "-F", cfg, "myserver", "--dry-run")
	if !strings.Contains(so, "would knock 127.0.0.1 (127.0.0.1)") || !strings.Contains(so, "tcp port 2222") {
		t.Errorf("-F myserver:\n%s", so)
	}
	so, _ = c.want(0, "", "noport", "--dry-run", "--ssh-config", cfg)
	if !strings.Contains(so, "127.0.0.2") || !strings.Contains(so, "tcp port 22,") {
		t.Errorf("noport: default Port 22 not used:\n%s", so)
	}
	// KNOCK_SSH_CONFIG, and -6 against AddressFamily inet's literal.
	e := newProfileCLI(t, "KNOCK_SSH_CONFIG="+cfg)
	e.home = c.home
	e.env = append(c.env, "KNOCK_SSH_CONFIG="+cfg)
	so, _ = e.want(0, "", "myserver", "--dry-run")
	if !strings.Contains(so, "127.0.0.1") {
		t.Errorf("KNOCK_SSH_CONFIG:\n%s", so)
	}
	e.want(2, "", "myserver", "--dry-run", "-6")
	// No Host entry and no wait port: knocks without verifying, with a hint.
	c.want(0, "", "profile", "add", "loop", "--host", "127.0.0.1", "--open", "7000")
	_, se := c.want(0, "", "-F", cfg, "loop")
	if !strings.Contains(se, "knock: hint: ") || !strings.Contains(se, "--wait-port") {
		t.Errorf("no hint about --wait-port: %s", se)
	}
	// Malformed ssh_config: one line naming file:line, exit 2.
	bad := filepath.Join(c.home, "bad_config")
	os.WriteFile(bad, []byte("Host myserver\n  Port twentytwo\n"), 0o600)
	_, se = c.want(2, "", "-F", bad, "myserver", "--dry-run")
	if !strings.Contains(se, bad+":2") {
		t.Errorf("malformed: %s", se)
	}
	c.want(2, "", "-F", filepath.Join(c.home, "missing"), "myserver", "--dry-run")
	// Completion lists profile names and ssh hosts without a keyring.
	so, _ = c.want(0, "", "__complete", "-F", cfg, "")
	for _, n := range []string{"myserver", "noport", "nohost"} {
		if !strings.Contains(so, n+"\n") {
			t.Errorf("completion lacks %s:\n%s", n, so)
		}
	}
}

func TestImportSeedKnockdCLI(t *testing.T) {
	c := newProfileCLI(t)
	// [openSSH] would become "ssh", which knock ssh runs instead.
	_, se := c.want(2, "", "profile", "import", "testdata/knockd-seed.conf", "--dry-run")
	if !strings.Contains(se, `profile name "ssh" is a knock subcommand: knock ssh would run the ssh subcommand instead of knocking`) || !strings.Contains(se, "--only ssh --as ssh-door") {
		t.Errorf("import of ssh: %q", se)
	}
	as := []string{"--only", "ssh", "--as", "ssh-door"}
	so, _ := c.want(0, "", append([]string{"profile", "import", "testdata/knockd-seed.conf", "--dry-run"}, as...)...)
	if strings.TrimSpace(so) != "ssh-door\topen+close" {
		t.Errorf("dry run: %q", so)
	}
	c.want(0, "", append([]string{"profile", "import", "testdata/knockd-seed.conf", "--host", "127.0.0.1"}, as...)...)
	so, _ = c.want(0, "", "profile", "show", "ssh-door", "--reveal")
	so = strings.Join(strings.Fields(so), " ")
	for _, want := range []string{"7000:tcp,8000:tcp,9000:tcp", "9000:tcp,8000:tcp,7000:tcp", "tcp-flags: syn", "wait-port: 22", "127.0.0.1"} {
		if !strings.Contains(so, want) {
			t.Errorf("show lacks %q:\n%s", want, so)
		}
	}
	c.want(2, "", append([]string{"profile", "import", "testdata/knockd-seed.conf"}, as...)...)
	c.want(2, "", "profile", "import", "profile_test.go")
	c.want(2, "", "profile", "import", "testdata/does-not-exist")
}
