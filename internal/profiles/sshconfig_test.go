package profiles

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writeSSH(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestProfileSSHConfigLookup(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	writeSSH(t, home, ".ssh/conf.d/lab.conf", `Host inc
  HostName 198.51.100.7
  Port 2200
`)
	abs := writeSSH(t, home, "elsewhere/abs.conf", "Host absinc\n  HostName 198.51.100.8\n")
	cfg := writeSSH(t, home, ".ssh/config", `# knock's test config
Include conf.d/*.conf
Include `+abs+`

Host myserver
  HostName 198.51.100.2
  Port 2222
  User alice
  AddressFamily inet6

Host web-* !web-skip
  HostName %h.example.net
  AddressFamily inet

Host plain
  User bob

Host *
  User default
  ServerAliveInterval 30
`)
	c, err := LoadSSHConfig(cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []SSHHost{
		{Alias: "myserver", HostName: "198.51.100.2", Port: 2222, User: "alice", Family: "inet6", HasEntry: true},
		{Alias: "web-1", HostName: "web-1.example.net", User: "default", Family: "inet", HasEntry: true},
		{Alias: "web-skip", User: "default"},
		{Alias: "plain", User: "bob", HasEntry: true},
		{Alias: "inc", HostName: "198.51.100.7", Port: 2200, User: "default", HasEntry: true},
		{Alias: "absinc", HostName: "198.51.100.8", User: "default", HasEntry: true},
		{Alias: "unknown", User: "default"},
	} {
		got, err := c.Lookup(tc.Alias)
		if err != nil {
			t.Errorf("%s: %v", tc.Alias, err)
			continue
		}
		if got != tc {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.Alias, got, tc)
		}
	}
	names := c.HostNames()
	for _, want := range []string{"myserver", "plain", "inc", "absinc"} {
		if !slices.Contains(names, want) {
			t.Errorf("HostNames %v lacks %s", names, want)
		}
	}
	if slices.ContainsFunc(names, func(s string) bool { return strings.ContainsAny(s, "*!") }) {
		t.Errorf("HostNames %v has patterns", names)
	}
}

func TestProfileSSHConfigBad(t *testing.T) {
	dir := t.TempDir()
	// Malformed lines: one error naming file and line.
	for name, content := range map[string]string{
		"port":     "Host a\n  Port ssh\n",
		"family":   "Host a\n  AddressFamily ipx\n",
		"noarg":    "Host a\n  HostName\n",
		"nohost":   "Host\n",
		"equals":   "Host a\n= foo\n",
		"quote":    "Host a\n  User \"bob\n",
		"keyword":  "Host a\n  Host-Name x\n",
		"included": "Include " + writeSSH(t, dir, "inc-bad", "\n\nPort 0\n") + "\n",
	} {
		p := writeSSH(t, dir, name, content)
		_, err := LoadSSHConfig(p, true)
		want := p + ":2:"
		if name == "included" {
			want = filepath.Join(dir, "inc-bad") + ":3:"
		}
		if name == "nohost" {
			want = p + ":1:"
		}
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v (want %s)", name, err, want)
		}
	}
	// A missing default file is an empty config; a missing named one an error.
	if _, err := LoadSSHConfig(filepath.Join(dir, "nope"), false); err != nil {
		t.Errorf("missing default: %v", err)
	}
	if _, err := LoadSSHConfig(filepath.Join(dir, "nope"), true); err == nil {
		t.Error("missing -F file accepted")
	}
}

func TestProfileSSHConfigPath(t *testing.T) {
	t.Setenv("HOME", "/home/u")
	t.Setenv(EnvSSHConfig, "")
	if p, explicit := SSHConfigPath(""); p != filepath.Join("/home/u", ".ssh", "config") || explicit {
		t.Errorf("default: %s %v", p, explicit)
	}
	t.Setenv(EnvSSHConfig, "/env/config")
	if p, _ := SSHConfigPath(""); p != "/env/config" {
		t.Errorf("env: %s", p)
	}
	if p, _ := SSHConfigPath("/flag"); p != "/flag" {
		t.Errorf("flag: %s", p)
	}
}
