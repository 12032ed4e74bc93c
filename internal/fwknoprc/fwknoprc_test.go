package fwknoprc

import (
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
)

func TestFwknoprcParse(t *testing.T) {
	f, err := ParseFile("testdata/fwknoprc")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.Names(), ","); got != "lab,web,gpg" {
		t.Fatalf("names %q", got)
	}
	lab, err := f.Resolve("lab")
	if err != nil {
		t.Fatal(err)
	}
	if lab.Server != "198.51.100.2" || lab.Access != "tcp/22" || lab.AllowIP != "source" ||
		lab.ServerPort != 62201 || lab.FWTimeout != 30 || !lab.UseHMAC || !lab.UseHMACSet ||
		!strings.HasPrefix(lab.KeyBase64, "wzNP") || !strings.HasSuffix(lab.HMACKeyBase64, "==") {
		t.Fatalf("lab: %+v", lab)
	}
	if len(lab.Issues) != 1 || lab.Issues[0].Name != "NO_SAVE_ARGS" || lab.Issues[0].Fatal || len(lab.Fatal()) != 0 {
		t.Fatalf("lab issues: %v", lab.Issues)
	}
	web, err := f.Resolve("web")
	if err != nil {
		t.Fatal(err)
	}
	if web.Server != "web.example" || web.Access != "tcp/80,tcp/443" || web.Key != "passphrase" ||
		web.HMACKey != "otherphrase" || web.Proto != "tcp" || web.ServerPort != 62202 ||
		web.TimeOffset != -2*time.Minute || web.SpoofUser != "deploy" || web.UseHMACSet {
		t.Fatalf("web: %+v", web)
	}
	gpg, err := f.Resolve("gpg")
	if err != nil {
		t.Fatal(err)
	}
	if !gpg.UseGPG || gpg.GPGRecipient != "1234ABCD" || len(gpg.Fatal()) != 0 {
		t.Fatalf("gpg: %+v, fatal %v", gpg, gpg.Fatal())
	}
	if _, err := f.Resolve("nope"); !errors.Is(err, ErrNoStanza) {
		t.Fatalf("missing stanza: %v", err)
	}
}

func TestFwknoprcErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"KEY x\n", "rc:1: fwknoprc syntax error: KEY appears before any [stanza]"},
		{"[a\n", "rc:1: fwknoprc syntax error: malformed stanza header"},
		{"[]\n", "rc:1: fwknoprc syntax error: malformed stanza header"},
		{"[a]\n\nACCESS\n", "rc:3: fwknoprc syntax error: ACCESS has no value"},
		{"[a]\nACCESS ;tcp/22\n", "rc:2: fwknoprc syntax error: ACCESS has no value"},
	}
	for _, tt := range tests {
		_, err := Parse("rc", strings.NewReader(tt.in))
		if err == nil || !errors.Is(err, ErrSyntax) || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want %q", tt.in, err, tt.want)
		}
	}
	resolve := []struct{ in, want string }{
		{"[a]\nSPA_SERVER_PORT x\n", `rc:2: SPA_SERVER_PORT: invalid port "x"`},
		{"[a]\nFW_TIMEOUT -1\n", `rc:2: FW_TIMEOUT: invalid timeout "-1"`},
		{"[a]\nTIME_OFFSET 3fortnights\n", `rc:2: TIME_OFFSET: invalid time offset "3fortnights": unknown unit`},
		{"[a]\nSPA_SERVER_PROTO carrier-pigeon\n", `rc:2: SPA_SERVER_PROTO: invalid protocol`},
	}
	for _, tt := range resolve {
		f, err := Parse("rc", strings.NewReader(tt.in))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Resolve("a"); err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Resolve(%q) = %v, want %q", tt.in, err, tt.want)
		}
	}
}

func TestFwknoprcIssues(t *testing.T) {
	in := "[default]\nALLOW_IP resolve\nHMAC_DIGEST_TYPE sha512\n[a]\nALLOW_IP 1.2.3.4\nACESS tcp/22\nkey_base64 abc\nKEY_FILE /k\nENCRYPTION_MODE ctr\nVERBOSE 1\n"
	f, err := Parse("rc", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.Resolve("a")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, i := range c.Fatal() {
		got = append(got, i.Name)
	}
	// ALLOW_IP resolve is overridden by the stanza, so not an issue.
	if strings.Join(got, ",") != "ACESS,key_base64,KEY_FILE,ENCRYPTION_MODE" || c.AllowIP != "1.2.3.4" || c.Resolve {
		t.Fatalf("issues %v allow %q resolve %v", got, c.AllowIP, c.Resolve)
	}
	if !strings.Contains(c.Fatal()[1].Reason, "write KEY_BASE64") {
		t.Fatalf("lower-case name: %s", c.Fatal()[1])
	}
	if len(c.Issues) != 5 || c.Issues[4].Name != "VERBOSE" || c.Issues[4].Fatal {
		t.Fatalf("warnings: %v", c.Issues)
	}
}

func TestFwknoprcSecretsNotInErrors(t *testing.T) {
	bad, _ := Parse("rc", strings.NewReader("[a]\nKEY_BASE64 s3cr3t!\n"))
	if _, err := bad.Resolve("a"); err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("error leaks a key or is missing: %v", err)
	}
	in := "[a]\nKEY_BASE64 s3cr3t\nHMAC_KEY sup3rs3cr3t\nBOGUS x\nGPG_SIGNING_PW s3cr3tpw\n"
	f, err := Parse("rc", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.Resolve("a")
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range c.Issues {
		if strings.Contains(i.String(), "s3cr3t") {
			t.Fatalf("issue leaks a key: %s", i)
		}
	}
}

func TestFwknoprcOffset(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"0": 0, "60": time.Minute, "60sec": time.Minute, "-5min": -5 * time.Minute,
		"+2days": 48 * time.Hour, "1hour": time.Hour, "3h": 3 * time.Hour, "10s": 10 * time.Second,
	} {
		if got, err := ParseOffset(in); err != nil || got != want {
			t.Errorf("ParseOffset(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "min", "5ms", "5y", "99999999999"} {
		if _, err := ParseOffset(bad); err == nil {
			t.Errorf("ParseOffset(%q) accepted", bad)
		}
	}
}

func TestFwknoprcLooksLike(t *testing.T) {
	rc, _ := os.ReadFile("testdata/fwknoprc")
	if !LooksLike(rc) {
		t.Error("fwknoprc not detected")
	}
	knockd := "[options]\n  UseSyslog\n[openSSH]\n  sequence = 7000,8000,9000\n  seq_timeout = 5\n  command = /sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT\n"
	if LooksLike([]byte(knockd)) {
		t.Error("knockd.conf taken for fwknoprc")
	}
}

func FuzzFwknoprc(f *testing.F) {
	for _, name := range []string{"testdata/fwknoprc", "testdata/fwknoprc-all"} {
		rc, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(rc))
	}
	f.Add("[a]\nTIME_OFFSET -5min\nSPA_SERVER_PORT 1\n")
	f.Add("[default]\nALLOW_IP resolve\nNAT_LOCAL Y\n[A]\nUSE_GPG Y\nGPG_RECIPIENT x\n[a]\nNAT_RAND_PORT Y\n")
	f.Add("[default]\n[a] #x\nKEY: v;c\n")
	f.Fuzz(func(t *testing.T, s string) {
		file, err := Parse("rc", strings.NewReader(s))
		if err != nil {
			if !errors.Is(err, ErrSyntax) || !strings.HasPrefix(err.Error(), "rc:") {
				t.Fatalf("error without position: %v", err)
			}
			return
		}
		_ = LooksLike([]byte(s))
		for _, n := range append(file.Names(), DefaultStanza) {
			c, err := file.Resolve(n)
			if err != nil {
				if !strings.HasPrefix(err.Error(), "rc:") {
					t.Fatalf("error without position: %v", err)
				}
				continue
			}
			for _, i := range c.Issues {
				if i.Line < 1 || i.Name == "" {
					t.Fatalf("issue without position: %+v", i)
				}
			}
			// The conversions must not panic, whatever the stanza.
			_, _ = c.Keys()
			_, _ = c.Request(netip.MustParseAddr("198.51.100.2"))
			_, _ = c.Transport(netip.MustParseAddr("198.51.100.2"))
			_ = c.WaitPort()
		}
	})
}

func TestFwknoprcLooksLikeGPGOnly(t *testing.T) {
	if !LooksLike([]byte("[work]\nUSE_GPG Y\nGPG_RECIPIENT 1234ABCD\n")) {
		t.Error("a GPG-only fwknoprc is not recognised, so its GPG lines would not be named")
	}
	if LooksLike([]byte("[x]\nFOO bar\n")) {
		t.Error("unknown variables alone taken for fwknoprc")
	}
}
