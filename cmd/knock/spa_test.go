package main

import (
	"bytes"
	"encoding/base64"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	testSPAKey  = "wzNP62oPPgEc+kXDPQLHPOayQBuNbYUTPP+QrErNDmg="
	testSPAHMAC = "Yh+xizBnl6FotC5ec7FanVGClRMlsOAPh2u6eovnerfBVKwaVKzjGoblFMHMc593TNyi0dWn4opLoTIV9q/ttg=="
)

// spaTestEnv isolates the knock binary from the user's profiles and keyring.
func spaTestEnv(t *testing.T) (string, []string) {
	dir := t.TempDir()
	return dir, []string{"HOME=" + dir, "XDG_CONFIG_HOME=" + dir, "XDG_RUNTIME_DIR=" + dir, "DBUS_SESSION_BUS_ADDRESS=",
		"APPDATA=" + dir, envSPAKey + "=", envSPAHMACKey + "="}
}

func writeFile(t *testing.T, path, s string, mode os.FileMode) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSPAKeygen(t *testing.T) {
	stdout, stderr, code := runKnockBin(t, nil, "spa", "keygen")
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if code != 0 || stderr != "" || len(lines) != 2 {
		t.Fatalf("keygen: %d %q %q", code, stdout, stderr)
	}
	k, ok1 := strings.CutPrefix(lines[0], "KEY_BASE64: ")
	h, ok2 := strings.CutPrefix(lines[1], "HMAC_KEY_BASE64: ")
	if !ok1 || !ok2 || len(k) != 44 || len(h) != 88 {
		t.Fatalf("not fwknop --key-gen format: %q", stdout)
	}
	if _, err := base64.StdEncoding.DecodeString(h); err != nil {
		t.Fatal(err)
	}
	again, _, _ := runKnockBin(t, nil, "spa", "keygen")
	if again == stdout {
		t.Fatal("two key pairs are equal")
	}
}

func TestSPABadInput(t *testing.T) {
	dir, env := spaTestEnv(t)
	good := writeFile(t, filepath.Join(dir, "good.keys"), "KEY_BASE64: "+testSPAKey+"\nHMAC_KEY_BASE64: "+testSPAHMAC+"\n", 0o600)
	loose := writeFile(t, filepath.Join(dir, "loose.keys"), "KEY_BASE64: "+testSPAKey+"\nHMAC_KEY_BASE64: "+testSPAHMAC+"\n", 0o644)
	long := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 48))
	longFile := writeFile(t, filepath.Join(dir, "long.keys"), "KEY_BASE64 "+long+"\nHMAC_KEY_BASE64 "+testSPAHMAC+"\n", 0o600)
	same := writeFile(t, filepath.Join(dir, "same.keys"), "KEY_BASE64 "+testSPAKey+"\nHMAC_KEY_BASE64 "+testSPAKey+"\n", 0o600)
	notB64 := writeFile(t, filepath.Join(dir, "bad.keys"), "KEY_BASE64 %%%%\n", 0o600)
	var many []string
	for p := 1000; p < 1020; p++ {
		many = append(many, "tcp/"+strconv.Itoa(p))
	}
	send := func(extra ...string) []string {
		return append([]string{"spa", "send", "127.0.0.1", "--dry-run"}, extra...)
	}
	tests := []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"no key", send("-A", "tcp/22"), nil, "no SPA key: give --key-file FILE"},
		{"long key", send("-A", "tcp/22", "--key-file", longFile), nil, "KEY_BASE64 decodes to 48 bytes, fwknop allows 1..32"},
		{"same keys", send("-A", "tcp/22", "--key-file", same), nil, "the HMAC key must differ from the encryption key"},
		{"not base64", send("-A", "tcp/22", "--key-file", notB64), nil, "KEY_BASE64 is not valid base64"},
		{"env not base64", send("-A", "tcp/22"), []string{envSPAKey + "=abc!", envSPAHMACKey + "=" + testSPAHMAC}, "KEY_BASE64 is not valid base64"},
		{"too long", send("-A", strings.Join(many, ","), "--key-file", good), nil, "fwknopd takes 400 or more for GPG"},
		{"protocol", send("-A", "icmp/22", "--key-file", good), nil, `unknown protocol "icmp" (want tcp or udp)`},
		{"allow ip", send("-A", "tcp/22", "--key-file", good, "-a", "2001:db8::1"), nil, "IPv4 addresses only"},
		{"nat", send("-A", "tcp/22", "--key-file", good, "--nat-access", "10.0.0.1,0"), nil, `port "0" is not 1..65535`},
		{"offset", send("-A", "tcp/22", "--key-file", good, "--time-offset", "3weeks"), nil, `unknown unit "weeks"`},
		{"user", send("-A", "tcp/22", "--key-file", good, "--user", "a:b"), nil, `invalid user name "a:b"`},
		{"ipv6 server", []string{"spa", "send", "2001:db8::2", "-A", "tcp/22", "--key-file", good, "--dry-run"}, nil, "address 2001:db8::2 is not IPv4"},
		{"no host", []string{"spa", "send", "-A", "tcp/22", "--key-file", good}, nil, "accepts 1 arg(s), received 0"},
		{"keygen argument", []string{"spa", "keygen", "extra"}, nil, `unknown command "extra"`},
		{"unknown subcommand", []string{"spa", "bogus"}, nil, `unknown command "bogus"`},
	}
	if runtime.GOOS != "windows" {
		tests = append(tests, struct {
			name string
			args []string
			env  []string
			want string
		}{"loose key file", send("-A", "tcp/22", "--key-file", loose), nil, "is accessible by group or others (mode 0644); chmod 600"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runKnockBin(t, append(append([]string(nil), env...), tt.env...), tt.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d; stderr: %s", code, exitUsage, stderr)
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "knock: error: ") || !strings.Contains(lines[0], tt.want) {
				t.Errorf("stderr = %q, want one line with %q", stderr, tt.want)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			for _, secret := range []string{testSPAKey, testSPAHMAC, long} {
				if strings.Contains(stderr, secret) {
					t.Errorf("a key leaked into the message")
				}
			}
		})
	}
}

func TestSPASendLoopback(t *testing.T) {
	dir, env := spaTestEnv(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	port := strconv.Itoa(pc.LocalAddr().(*net.UDPAddr).Port)
	env = append(env, envSPAKey+"="+testSPAKey, envSPAHMACKey+"="+testSPAHMAC)
	var got []string
	for i := 0; i < 2; i++ {
		_, stderr, code := runKnockBin(t, env, "spa", "send", "127.0.0.1", "-A", "tcp/22", "--spa-port", port)
		if code != 0 {
			t.Fatalf("send: %d %s", code, stderr)
		}
		_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 2048)
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(buf[:n]))
	}
	for _, w := range got {
		if len(w) < 140 || len(w) >= 400 || strings.HasPrefix(w, "U2FsdGVkX1") || strings.ContainsAny(w, "\n\x00") {
			t.Fatalf("not an fwknop wire string: %q", w)
		}
	}
	if got[0] == got[1] {
		t.Fatal("a resend repeated the packet: fwknopd would take it for a replay")
	}
	_ = dir
}

const testFwknoprc = `[default]
SPA_SERVER_PORT 62201
NO_SAVE_ARGS    N

[lab]
SPA_SERVER      127.0.0.1
ACCESS          tcp/22
ALLOW_IP        source
KEY_BASE64      ` + testSPAKey + `
HMAC_KEY_BASE64 ` + testSPAHMAC + `
USE_HMAC        Y
FW_TIMEOUT      30

[gpg]
SPA_SERVER      127.0.0.1
ACCESS          tcp/22
USE_GPG         Y
GPG_RECIPIENT   1234ABCD
`

func TestSPAImportFwknoprc(t *testing.T) {
	dir, env := spaTestEnv(t)
	rc := writeFile(t, filepath.Join(dir, "fwknoprc"), testFwknoprc, 0o600)
	_, stderr, code := runKnockBin(t, env, "profile", "import", rc, "--store", "file")
	if code != 0 {
		t.Fatalf("import: %d %s", code, stderr)
	}
	for _, want := range []string{
		rc + ":3: NO_SAVE_ARGS: ignored",
		rc + ":17: stanza [gpg]: USE_GPG: knock reads no GnuPG home",
		"--gpg-keyring keys.asc; not imported",
		`imported profile "lab" (spa)`,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("import output lacks %q:\n%s", want, stderr)
		}
	}
	stdout, stderr, code := runKnockBin(t, env, "lab", "--dry-run")
	if code != 0 || !strings.Contains(stdout, "would send an SPA packet") || !strings.Contains(stdout, "127.0.0.1:62201") ||
		!strings.Contains(stdout, "tcp/22 for source address, 30 s") || !strings.Contains(stdout, "wait up to 10s for tcp port 22") {
		t.Fatalf("knock lab --dry-run: %d %q %s", code, stdout, stderr)
	}
	if strings.Contains(stdout+stderr, testSPAKey) || strings.Contains(stdout+stderr, testSPAHMAC) {
		t.Fatal("a key leaked into the output")
	}
	_, stderr, code = runKnockBin(t, env, "lab", "--tcp-flags", "syn")
	if code != exitUsage || !strings.Contains(stderr, "--tcp-flags: only for knock sequences, not for an SPA profile") {
		t.Fatalf("knock lab --tcp-flags: %d %s", code, stderr)
	}
}

func TestSPAImportBadKey(t *testing.T) {
	dir, env := spaTestEnv(t)
	rc := writeFile(t, filepath.Join(dir, "fwknoprc"), "[x]\nSPA_SERVER 127.0.0.1\nACCESS tcp/22\nKEY_BASE64 "+testSPAKey+"\nHMAC_KEY_BASE64 "+testSPAKey+"\n", 0o600)
	_, stderr, code := runKnockBin(t, env, "profile", "import", rc, "--store", "file")
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if code != exitUsage || len(lines) != 1 || !strings.Contains(lines[0], rc+":5: stanza [x]: invalid key: HMAC_KEY_BASE64 equals KEY_BASE64") {
		t.Fatalf("import: %d %q", code, stderr)
	}
	// KEY and HMAC_KEY (passphrases): the error names them, not their
	// base64 twins, and never shows them.
	for _, tc := range []struct{ stanza, want string }{
		{"KEY SuperSecretPassphraseThatIsWayTooLongForRijndael\n", rc + "3:4: stanza [x]: invalid key: KEY is 48 bytes long, fwknop allows 1..32"},
		{"KEY samekey\nHMAC_KEY samekey\n", rc + "3:5: stanza [x]: invalid key: HMAC_KEY equals KEY"},
	} {
		rc3 := writeFile(t, rc+"3", "[x]\nSPA_SERVER 127.0.0.1\nACCESS tcp/22\n"+tc.stanza, 0o600)
		_, stderr, code = runKnockBin(t, env, "profile", "import", rc3, "--store", "file")
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if code != exitUsage || len(lines) != 1 || !strings.Contains(lines[0], tc.want) || strings.Contains(stderr, "SuperSecret") || strings.Contains(stderr, "samekey") {
			t.Errorf("import %q: %d %q, want one line with %q", tc.stanza, code, stderr, tc.want)
		}
	}
	rc = writeFile(t, filepath.Join(dir, "fwknoprc2"), "[x]\nSPA_SERVER 127.0.0.1\nACCESS sctp/22\nKEY_BASE64 "+testSPAKey+"\n", 0o600)
	_, stderr, code = runKnockBin(t, env, "profile", "import", rc, "--store", "file")
	if code != exitUsage || !strings.Contains(stderr, rc+`:3: stanza [x]: invalid access request "sctp/22": unknown protocol`) {
		t.Fatalf("import: %d %q", code, stderr)
	}
}

func TestSPAAddProfile(t *testing.T) {
	dir, env := spaTestEnv(t)
	keys := writeFile(t, filepath.Join(dir, "lab.keys"), "KEY_BASE64: "+testSPAKey+"\nHMAC_KEY_BASE64: "+testSPAHMAC+"\n", 0o600)
	_, stderr, code := runKnockBin(t, env, "spa", "add", "lab", "--host", "127.0.0.1", "-A", "tcp/2222,udp/53", "--key-file", keys, "--fw-timeout", "60", "--store", "file")
	if code != 0 || !strings.Contains(stderr, `saved profile "lab"`) {
		t.Fatalf("spa add: %d %s", code, stderr)
	}
	stdout, stderr, code := runKnockBin(t, env, "lab", "--dry-run")
	if code != 0 || !strings.Contains(stdout, "tcp/2222,udp/53 for source address, 60 s") || !strings.Contains(stdout, "tcp port 2222") {
		t.Fatalf("knock lab --dry-run: %d %q %s", code, stdout, stderr)
	}
	_, stderr, code = runKnockBin(t, env, "spa", "add", "lab2", "--host", "127.0.0.1", "-A", "tcp/22", "--key-file", keys, "--allow-ip", "resolve", "--store", "file")
	if code != 0 {
		t.Fatalf("spa add --allow-ip resolve: %d %s", code, stderr)
	}
	stdout, stderr, code = runKnockBin(t, env, "lab2", "--dry-run")
	if code != 0 || !strings.Contains(stdout, "tcp/22 for the address https://www.cipherdyne.org/cgi-bin/myip answers") {
		t.Fatalf("knock lab2 --dry-run: %d %q %s", code, stdout, stderr)
	}
}
