//go:build linux

package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/a-knock/knock/internal/lab"
)

// profileDoor is a knockd door that touches a marker file in the lab
// directory when it opens.
func profileDoor(name, sequence string) string {
	return "[" + name + "]\n  sequence = " + sequence + "\n  seq_timeout = 5\n" +
		"  command = /usr/bin/touch {{DIR}}/" + name + ".%IP%\n\n"
}

func profileDoorOpened(l *lab.Lab, name string) bool {
	return lab.WaitFor(3*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(l.Dir, name+"."+lab.ClientIP4.String()))
		return err == nil
	})
}

// TestKeyringProfileLab stores a profile in a real Secret Service
// (gnome-keyring on a private D-Bus session bus), checks it with
// secret-tool, and knocks a real knockd in the lab from it.
func TestKeyringProfileLab(t *testing.T) {
	lab.Require(t, "knockd", "gnome-keyring-daemon", "dbus-run-session", "secret-tool")
	kr := lab.StartKeyring(t)
	l := lab.New(t)
	kd := l.Knockd(t, profileDoor("opensrv", "7311,7312:udp,7313")+profileDoor("closesrv", "7313,7312:udp,7311"))
	bin := lab.KnockBinary(t)
	knock := func(want int, args ...string) lab.Result {
		t.Helper()
		r := l.RunIn(t, l.Client, kr.Env, bin, args...)
		if r.Code != want {
			t.Fatalf("knock %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Code, want, r.Stdout, r.Stderr)
		}
		return r
	}
	server := lab.ServerIP4.String()
	r := knock(0, "profile", "add", "srv", "--host", server, "--open", "7311,7312:udp,7313", "--close", "7313,7312:udp,7311")
	if !strings.Contains(r.Stderr, "keyring store") {
		t.Errorf("not saved in the keyring: %s", r.Stderr)
	}
	knock(2, "profile", "add", "srv", "--open", "1")

	// The items are in the Secret Service, under service "knock".
	out, err := kr.SecretTool("", "search", "--all", "service", "knock")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"attribute.username = index", "attribute.username = index.1", "attribute.username = profile.srv."} {
		if !strings.Contains(out, want) {
			t.Errorf("secret-tool search lacks %q:\n%s", want, out)
		}
	}
	if v, err := kr.SecretTool("", "lookup", "service", "knock", "username", "index.1"); err != nil || !strings.Contains(v, `"n":"srv"`) {
		t.Errorf("index shard: %q %v", v, err)
	}

	r = knock(0, "profile", "list")
	if !strings.Contains(r.Stdout, "srv") || !strings.Contains(r.Stdout, "keyring") || strings.Contains(r.Stdout, "7311") {
		t.Errorf("list:\n%s", r.Stdout)
	}
	r = knock(0, "profile", "show", "srv")
	if strings.Contains(r.Stdout, "7311") {
		t.Errorf("show not redacted:\n%s", r.Stdout)
	}
	r = knock(0, "profile", "show", "srv", "--reveal")
	if !strings.Contains(r.Stdout, "7311:tcp,7312:udp,7313:tcp") {
		t.Errorf("show --reveal:\n%s", r.Stdout)
	}

	// knock NAME opens; without a wait port it says how to verify.
	r = knock(0, "srv")
	if !profileDoorOpened(l, "opensrv") {
		t.Fatalf("door did not open; knockd log:\n%s", kd.Log())
	}
	if !strings.Contains(r.Stderr, "knock: hint:") {
		t.Errorf("no hint: %s", r.Stderr)
	}
	knock(0, "close", "srv")
	if !profileDoorOpened(l, "closesrv") {
		t.Fatalf("close door did not open; knockd log:\n%s", kd.Log())
	}

	// No sequence in plaintext anywhere under HOME.
	filepath.WalkDir(kr.Home, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(path)
		for _, secret := range []string{"7311", "7312", "7313"} {
			if strings.Contains(string(b), secret) {
				t.Errorf("%s holds %s in plaintext", path, secret)
			}
		}
		return nil
	})

	// Remove: the items go, and the name is unknown.
	knock(0, "profile", "rm", "srv")
	out, _ = kr.SecretTool("", "search", "--all", "service", "knock")
	if strings.Contains(out, "profile.srv.") {
		t.Errorf("items left after rm:\n%s", out)
	}
	knock(2, "srv")

	// A corrupted item: one line, exit 1, and the other profile survives.
	knock(0, "profile", "add", "keep", "--host", server, "--open", "7311")
	knock(0, "profile", "add", "broken", "--host", server, "--open", "7312")
	out, _ = kr.SecretTool("", "search", "--all", "service", "knock")
	var part string
	for _, line := range strings.Split(out, "\n") {
		if _, p, ok := strings.Cut(line, "attribute.username = "); ok && strings.HasPrefix(p, "profile.broken.") {
			part = p
		}
	}
	if part == "" {
		t.Fatalf("no item of profile broken:\n%s", out)
	}
	if _, err := kr.SecretTool("{not json", "store", "--label=x", "service", "knock", "username", part); err != nil {
		t.Fatal(err)
	}
	r = knock(exitUsage, "broken") // bad input, as docs/exit-codes.md says
	if !strings.Contains(r.Stderr, "corrupted") || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 {
		t.Errorf("corrupted item: %s", r.Stderr)
	}
	knock(0, "profile", "show", "keep")

	// A locked keyring: the file store's profiles are still listed, with
	// one warning naming the keyring; a keyring profile cannot be read
	// (one line, exit 1); nothing lost once unlocked.
	knock(0, "profile", "add", "onfile", "--host", server, "--open", "7311", "--store", "file")
	kr.Lock(t)
	r = knock(0, "profile", "list")
	if !strings.Contains(r.Stdout, "onfile") || strings.Contains(r.Stdout, "keep") ||
		strings.Count(r.Stderr, "\n") != 1 || !strings.Contains(r.Stderr, "knock: warning: keyring profiles not listed") || !strings.Contains(r.Stderr, "locked") {
		t.Errorf("locked keyring: stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	knock(1, "keep")
	knock(1, "profile", "add", "new", "--open", "1")
}

// TestKeyringAbsentFallsBack: with no session bus, a profile goes to the
// file store with a one-line notice, and --store keyring fails clearly.
func TestKeyringAbsentFallsBack(t *testing.T) {
	c := newProfileCLI(t)
	_, se := c.want(0, "", "profile", "add", "a", "--host", "127.0.0.1", "--open", "1")
	if !strings.Contains(se, "no D-Bus session bus") || !strings.Contains(se, "using the file store") {
		t.Errorf("notice: %s", se)
	}
	_, se = c.want(1, "", "profile", "add", "b", "--open", "1", "--store", "keyring")
	if !strings.Contains(se, "no OS keyring") {
		t.Errorf("explicit keyring: %s", se)
	}
	// A bus without a Secret Service: the same fallback.
	c.env = append(c.env, "DBUS_SESSION_BUS_ADDRESS=unix:path="+filepath.Join(c.home, "no-such-bus"))
	_, se = c.want(0, "", "profile", "add", "c", "--host", "127.0.0.1", "--open", "1")
	if !strings.Contains(se, "using the file store") {
		t.Errorf("dead bus: %s", se)
	}
}
