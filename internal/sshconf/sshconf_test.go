package sshconf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/a-knock/knock/internal/safeio"
)

func write(t testing.TB, dir, name, content string) string {
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

func TestLookup(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	write(t, home, ".ssh/conf.d/lab.conf", "Host inc\n  HostName 198.51.100.7\n  Port 2200\n")
	abs := write(t, home, "elsewhere/abs.conf", "Host absinc\n  HostName 198.51.100.8\n")
	cfg := write(t, home, ".ssh/config", `# knock's test config
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

Match exec "true"
  User matched

Host *
  User default
  ServerAliveInterval 30
`)
	c, err := Load(cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	if c.Err() != nil || !c.HasMatch {
		t.Fatalf("problems %v, HasMatch %v", c.Problems, c.HasMatch)
	}
	for _, tc := range []Host{
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
	var names []string
	for _, e := range c.Hosts() {
		names = append(names, e.Alias+"="+e.HostName)
	}
	want := []string{"inc=198.51.100.7", "absinc=198.51.100.8", "myserver=198.51.100.2", "plain="}
	if !slices.Equal(names, want) {
		t.Errorf("Hosts %v, want %v", names, want)
	}
}

// An Include inside a Host block applies to that block only, and Host
// lines of the included file end with it: the rest of the outer block
// still belongs to the outer Host, as ssh reads it.
func TestIncludeRestoresBlock(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	write(t, home, ".ssh/inner", "Port 2201\nHost other\n  User inner\n")
	cfg := write(t, home, ".ssh/config", "Host outer\n  Include inner\n  User outeruser\nHost other\n  Port 2300\n")
	c, err := Load(cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	outer, _ := c.Lookup("outer")
	if outer.Port != 2201 || outer.User != "outeruser" {
		t.Errorf("outer %+v", outer)
	}
	other, _ := c.Lookup("other")
	if other.User != "inner" || other.Port != 2300 {
		t.Errorf("other %+v", other)
	}
}

func TestProblems(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"port":     "Host a\n  Port ssh\n",
		"family":   "Host a\n  AddressFamily ipx\n",
		"noarg":    "Host a\n  HostName\n",
		"nohost":   "Host\n",
		"equals":   "Host a\n= foo\n",
		"quote":    "Host a\n  User \"bob\n",
		"keyword":  "Host a\n  Host-Name x\n",
		"included": "Include " + write(t, dir, "inc-bad", "\n\nPort 0\n") + "\n",
	} {
		p := write(t, dir, name, content)
		c, err := Load(p, true)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		want := p + ":2:"
		switch name {
		case "included":
			want = filepath.Join(dir, "inc-bad") + ":3:"
		case "nohost":
			want = p + ":1:"
		}
		if err := c.Err(); err == nil || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v (want %s)", name, err, want)
		}
	}
	// Lines after a bad one are still read.
	p := write(t, dir, "rest", "Hostt\nHost ok\n  HostName 198.51.100.9\n")
	c, err := Load(p, true)
	if err != nil || len(c.Problems) != 1 {
		t.Fatalf("%v %v", c, err)
	}
	if h, _ := c.Lookup("ok"); h.HostName != "198.51.100.9" {
		t.Errorf("after a bad line: %+v", h)
	}
	// A missing default file is an empty config; a missing named one an error.
	if _, err := Load(filepath.Join(dir, "nope"), false); err != nil {
		t.Errorf("missing default: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "nope"), true); err == nil {
		t.Error("missing -F file accepted")
	}
}

// Files that are not regular, or too large, are refused with one error
// naming them: never read without end.
func TestBoundedReads(t *testing.T) {
	dir := t.TempDir()
	big := write(t, dir, "big", strings.Repeat("# filler\n", safeio.ConfigLimit/9+1))
	for name, tc := range map[string]struct {
		path string
		want error
	}{
		"directory":       {dir, safeio.ErrNotRegular},
		"big":             {big, safeio.ErrTooLarge},
		"include dir":     {write(t, dir, "incdir", "Include "+dir+"\n"), safeio.ErrNotRegular},
		"include big":     {write(t, dir, "incbig", "Host a\n Include "+big+"\n"), safeio.ErrTooLarge},
		"include himself": {write(t, dir, "loop", "Include "+filepath.Join(dir, "loop")+"\n"), nil},
	} {
		c, err := Load(tc.path, true)
		if tc.want == nil {
			if err != nil || c.Err() == nil || !strings.Contains(c.Err().Error(), "nested") {
				t.Errorf("%s: %v %v", name, err, c)
			}
			continue
		}
		if !errors.Is(err, tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}

func TestPath(t *testing.T) {
	t.Setenv("HOME", "/home/u")
	t.Setenv(EnvConfig, "")
	if p, explicit := Path(""); p != filepath.Join("/home/u", ".ssh", "config") || explicit {
		t.Errorf("default: %s %v", p, explicit)
	}
	t.Setenv(EnvConfig, "/env/config")
	if p, _ := Path(""); p != "/env/config" {
		t.Errorf("env: %s", p)
	}
	if p, _ := Path("/flag"); p != "/flag" {
		t.Errorf("flag: %s", p)
	}
}

func TestParseG(t *testing.T) {
	out := "user root\nhostname web.example.org\nport 2222\naddressfamily inet\nhostkeyalias keyname\n"
	want := GResult{HostName: "web.example.org", Port: 2222, User: "root", Family: "inet", HostKeyAlias: "keyname"}
	if g := ParseG([]byte(out)); g != want {
		t.Fatalf("%+v", g)
	}
	if g := ParseG([]byte("port 0\nport x\nhostname\nhostkeyalias none\naddressfamily ipx\n")); g != (GResult{}) {
		t.Fatalf("malformed lines gave %+v", g)
	}
}

func FuzzParseG(f *testing.F) {
	f.Add([]byte("hostname h\nport 22\nhostkeyalias a\n"))
	f.Add([]byte("port 99999\n\x00\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		g := ParseG(b)
		if strings.ContainsAny(g.HostName+g.HostKeyAlias+g.User, "\n") {
			t.Fatalf("newline in %+v", g)
		}
	})
}

// FuzzLoad: any file gives a config or one error, never a panic; every
// listed host is concrete and can be looked up.
func FuzzLoad(f *testing.F) {
	f.Add("Host a b\n HostName x\nInclude nothing\n")
	f.Add("Host=*\nMatch all\n\tHostName %h.example\n")
	f.Add("Host a\n  Port 22\n  AddressFamily inet\nMatch host x\n  User y\n")
	f.Add("Host \"unbalanced\n")
	f.Fuzz(func(t *testing.T, content string) {
		t.Setenv("HOME", t.TempDir())
		p := write(t, t.TempDir(), "config", content)
		c, err := Load(p, true)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		for _, e := range c.Hosts() {
			if e.Alias == "" || strings.ContainsAny(e.Alias, "*?!") {
				t.Fatalf("bad entry %+v", e)
			}
			h, err := c.Lookup(e.Alias)
			if err == nil && h.HostName != e.HostName {
				t.Fatalf("Hosts says %s has HostName %q, Lookup says %q", e.Alias, e.HostName, h.HostName)
			}
		}
	})
}

// TestHostsAgreesWithLookup: the one-pass listing gives every alias the
// HostName a lookup gives it, whichever block sets it first.
func TestHostsAgreesWithLookup(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	dir := t.TempDir()
	write(t, dir, "inc", "Host c\n  HostName c.included\nHost d*\n  HostName %h.wild\n")
	p := write(t, dir, "config", `Host early
  HostName early.example
Host !skip *.corp b
  HostName %h.negated
Host a b c skip
  User u
Host a
  HostName a.example
Include `+filepath.Join(dir, "inc")+`
Host d1 e
  HostName d1.literal
Match host a
  HostName never
Host *
  HostName %h.fallback
`)
	c, err := Load(p, true)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"early": "early.example", "b": "b.negated", "a": "a.example", "c": "c.included",
		"skip": "skip.fallback", "d1": "d1.wild", "e": "d1.literal",
	}
	got := map[string]string{}
	for _, e := range c.Hosts() {
		got[e.Alias] = e.HostName
		h, err := c.Lookup(e.Alias)
		if err != nil || h.HostName != e.HostName {
			t.Errorf("%s: Hosts %q, Lookup %q (%v)", e.Alias, e.HostName, h.HostName, err)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Hosts:\n got %v\nwant %v", got, want)
	}
}

// BenchmarkHosts lists 5,000 hosts, as the picker's first frame does.
func BenchmarkHosts(b *testing.B) {
	var sb strings.Builder
	for i := 1; i <= 5000; i++ {
		fmt.Fprintf(&sb, "Host h%05d\n    HostName 198.51.100.%d\n    User u\n\n", i, i%250+1)
	}
	sb.WriteString("Host *.corp\n  HostName %h.example\n")
	p := write(b, b.TempDir(), "config", sb.String())
	for b.Loop() {
		c, err := Load(p, true)
		if err != nil || len(c.Hosts()) != 5000 {
			b.Fatal(err)
		}
	}
}

func TestDevNull(t *testing.T) {
	c, err := Load(os.DevNull, true)
	if err != nil || len(c.Hosts()) != 0 || c.Err() != nil {
		t.Fatalf("%v %v", c, err)
	}
}
