package main

import (
	"context"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/a-knock/knock/internal/profiles"
)

func TestSSHHostKeyAliasFallback(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-ssh") // ssh -G fails: knock's own reading counts
	cases := []struct {
		name     string
		t        target
		want     string
		wantArgs string
	}{
		{"ssh HostName", target{Name: "web", SSH: profiles.SSHHost{HostName: "Web.Example.org"}, SSHPort: 22, Profile: &profiles.Profile{}},
			"web.example.org", "-4 -o HostName=198.51.100.2 -o HostKeyAlias=web.example.org web"},
		{"other port", target{Name: "web", SSH: profiles.SSHHost{HostName: "web.example.org"}, SSHPort: 2222, Profile: &profiles.Profile{}},
			"[web.example.org]:2222", ""},
		{"profile host", target{Name: "box", SSHPort: 22, Profile: &profiles.Profile{Host: "2001:db8::2"}},
			"2001:db8::2", ""},
		{"name only", target{Name: "Box", SSHPort: 22, Profile: &profiles.Profile{}}, "box", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.t.Addr = netip.MustParseAddr("198.51.100.2")
			if got := hostKeyAlias(context.Background(), missing, nil, &c.t); got != c.want {
				t.Fatalf("alias %q, want %q", got, c.want)
			}
			if c.wantArgs != "" {
				args := strings.Join(sshCommand(context.Background(), missing, &c.t, nil), " ")
				if args != c.wantArgs {
					t.Fatalf("ssh args %q, want %q", args, c.wantArgs)
				}
			}
		})
	}
}

func TestSSHCommandExplicitConfig(t *testing.T) {
	old := sshConfigFlag
	defer func() { sshConfigFlag = old }()
	sshConfigFlag = "/etc/knock-test/ssh_config"
	tg := &target{Name: "lab6", SSHPort: 22, Addr: netip.MustParseAddr("2001:db8::2"), Profile: &profiles.Profile{}}
	args := sshCommand(context.Background(), filepath.Join(t.TempDir(), "no-ssh"), tg, []string{"-t", "uptime"})
	want := "-F /etc/knock-test/ssh_config -6 -o HostName=2001:db8::2 -o HostKeyAlias=lab6 lab6 -t uptime"
	if got := strings.Join(args, " "); got != want {
		t.Fatalf("args %q\nwant %q", got, want)
	}
}

func TestSSHParseSSHG(t *testing.T) {
	out := "user root\nhostname web.example.org\nport 2222\naddressfamily any\nhostkeyalias keyname\n"
	g := parseSSHG([]byte(out))
	if g.hostname != "web.example.org" || g.port != 2222 || g.hostKeyAlias != "keyname" {
		t.Fatalf("%+v", g)
	}
	if g := parseSSHG([]byte("port 0\nport x\nhostname\nhostkeyalias none\n")); g != (sshG{}) {
		t.Fatalf("malformed lines gave %+v", g)
	}
}

func FuzzSSHParseSSHG(f *testing.F) {
	f.Add([]byte("hostname h\nport 22\nhostkeyalias a\n"))
	f.Add([]byte("port 99999\n\x00\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		g := parseSSHG(b)
		if strings.ContainsAny(g.hostname+g.hostKeyAlias, "\n") {
			t.Fatalf("newline in %+v", g)
		}
	})
}
