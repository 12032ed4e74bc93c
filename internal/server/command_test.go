package server

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/a-knock/knock/internal/seq"
)

func TestServeSplitCommand(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  string
	}{
		{"/sbin/iptables -A INPUT -s %IP% -j ACCEPT", []string{"/sbin/iptables", "-A", "INPUT", "-s", "%IP%", "-j", "ACCEPT"}, ""},
		{`/bin/sh -c 'echo %IP% >> /tmp/x'`, []string{"/bin/sh", "-c", "echo %IP% >> /tmp/x"}, ""},
		{`logger "knock from %IP%" a\ b`, []string{"logger", "knock from %IP%", "a b"}, ""},
		{`a "x\"y"`, []string{"a", `x"y`}, ""},
		{"a && b", nil, "needs a shell"},
		{"a | b", nil, "needs a shell"},
		{"a > f", nil, "needs a shell"},
		{"echo $HOME", nil, "needs a shell"},
		{`echo "$(id)"`, nil, "needs a shell"},
		{"a 'b", nil, "unterminated"},
		{"   ", nil, "empty"},
	}
	for _, tc := range tests {
		got, err := splitCommand(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: %q %v, want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestServeCommandExpand(t *testing.T) {
	c, err := parseCommand("/usr/bin/touch /tmp/m.%IP% --from=%IP%")
	if err != nil {
		t.Fatal(err)
	}
	got := c.expand(netip.MustParseAddr("2001:db8::1"))
	want := []string{"/usr/bin/touch", "/tmp/m.2001:db8::1", "--from=2001:db8::1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%q", got)
	}
}

func TestServeCommandRun(t *testing.T) {
	touch, err := lookTouch()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no touch(1) in CI: %v", err)
		}
		t.Skip("no touch(1) (not in CI)")
	}
	dir := t.TempDir()
	c, _ := parseCommand(touch + " " + filepath.Join(dir, "m.%IP%"))
	if err := c.run(t.Context(), cliA, DefaultExecTimeout); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "m.198.51.100.1")); err != nil {
		t.Fatal(err)
	}
	bad, _ := parseCommand(filepath.Join(dir, "no-such-program"))
	if err := bad.run(t.Context(), cliA, DefaultExecTimeout); err == nil {
		t.Error("missing program ran")
	}
}

func lookTouch() (string, error) {
	for _, p := range []string{"/usr/bin/touch", "/bin/touch"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", os.ErrNotExist
}

func TestServeOneTimeSequences(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ots")
	body := "# used before\n 7001,7002\n\n bogus line\n 7003:udp,7004\n#7005\n 7006\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	o := &otsFile{path: path}
	s, err := o.next()
	if err != nil || s.String() != "7001:tcp,7002:tcp" {
		t.Fatalf("first %v %v", s, err)
	}
	s, err = o.use(s)
	if err != nil || s.String() != "7003:udp,7004:tcp" {
		t.Fatalf("second %v %v", s, err)
	}
	s, err = o.use(s)
	if err != nil || s.String() != "7006:tcp" {
		t.Fatalf("third %v %v", s, err)
	}
	if _, err = o.use(s); err != errExhausted {
		t.Fatalf("after last: %v", err)
	}
	b, _ := os.ReadFile(path)
	want := "# used before\n#7001,7002\n\n bogus line\n#7003:udp,7004\n#7005\n#7006\n"
	if string(b) != want {
		t.Errorf("file now\n%s\nwant\n%s", b, want)
	}
	_ = seq.TCP
}

func FuzzSplitCommand(f *testing.F) {
	for _, s := range []string{"/sbin/iptables -A INPUT -s %IP% -j ACCEPT", `a "b c" 'd' e\ f`, "a && b", `"unterminated`, `x\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := splitCommand(s)
		if err == nil && len(words) == 0 {
			t.Fatal("no words and no error")
		}
		if err == nil {
			c := &command{argv: words}
			for _, w := range c.expand(cliB) {
				if strings.Contains(w, ipToken) {
					t.Fatalf("%%IP%% left in %q", w)
				}
			}
		}
	})
}
