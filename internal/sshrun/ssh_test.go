package sshrun

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/a-knock/knock/internal/door"
	"github.com/a-knock/knock/internal/profiles"
	"github.com/a-knock/knock/internal/sshconf"
)

func TestSSHHostKeyAliasFallback(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-ssh") // ssh -G fails: knock's own reading counts
	cases := []struct {
		name     string
		t        door.Target
		want     string
		wantArgs string
	}{
		{"ssh HostName", door.Target{Name: "web", SSH: sshconf.Host{HostName: "Web.Example.org"}, SSHPort: 22, Profile: &profiles.Profile{}},
			"web.example.org", "-4 -o HostName=198.51.100.2 -o HostKeyAlias=web.example.org web"},
		{"other port", door.Target{Name: "web", SSH: sshconf.Host{HostName: "web.example.org"}, SSHPort: 2222, Profile: &profiles.Profile{}},
			"[web.example.org]:2222", ""},
		{"profile host", door.Target{Name: "box", SSHPort: 22, Profile: &profiles.Profile{Host: "2001:db8::2"}},
			"2001:db8::2", ""},
		{"name only", door.Target{Name: "Box", SSHPort: 22, Profile: &profiles.Profile{}}, "box", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.t.Addr = netip.MustParseAddr("198.51.100.2")
			if got := HostKeyAlias(context.Background(), missing, nil, &c.t); got != c.want {
				t.Fatalf("alias %q, want %q", got, c.want)
			}
			if c.wantArgs != "" {
				args := strings.Join(Command(context.Background(), missing, &c.t, "", nil), " ")
				if args != c.wantArgs {
					t.Fatalf("ssh args %q, want %q", args, c.wantArgs)
				}
			}
		})
	}
}

func TestSSHCommandExplicitConfig(t *testing.T) {
	tg := &door.Target{Name: "lab6", SSHPort: 22, Addr: netip.MustParseAddr("2001:db8::2"), Profile: &profiles.Profile{}}
	args := Command(context.Background(), filepath.Join(t.TempDir(), "no-ssh"), tg, "/etc/knock-test/ssh_config", []string{"-t", "uptime"})
	want := "-F /etc/knock-test/ssh_config -6 -o HostName=2001:db8::2 -o HostKeyAlias=lab6 lab6 -t uptime"
	if got := strings.Join(args, " "); got != want {
		t.Fatalf("args %q\nwant %q", got, want)
	}
}

// With ssh installed, ssh -G answers: the user's HostKeyAlias, else the
// HostName and Port ssh itself computes.
func TestHostKeyAliasSSHG(t *testing.T) {
	sshPath, err := exec.LookPath("ssh")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("ssh not installed (the test command installs openssh-client)")
		}
		t.Skip("ssh not installed (outside CI, so skipping)")
	}
	conf := filepath.Join(t.TempDir(), "config")
	os.WriteFile(conf, []byte("Host aliased\n  HostName 203.0.113.9\n  HostKeyAlias keyname\nHost ported\n  HostName Ported.Example.org\n  Port 2022\n"), 0o600)
	pre := []string{"-F", conf}
	addr := netip.MustParseAddr("2001:db8::2")
	for name, want := range map[string]string{"aliased": "keyname", "ported": "[ported.example.org]:2022"} {
		tg := &door.Target{Name: name, SSHPort: 22, Addr: addr, Profile: &profiles.Profile{}}
		if got := HostKeyAlias(context.Background(), sshPath, pre, tg); got != want {
			t.Errorf("%s: alias %q, want %q", name, got, want)
		}
	}
}
