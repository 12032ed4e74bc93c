package profiles

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/a-knock/knock/internal/spa"
)

func importRC(t *testing.T, file, rc string, opt ImportOptions) *ImportResult {
	t.Helper()
	res, err := Import(file, []byte(rc), opt)
	if err != nil {
		t.Fatal(err)
	}
	if res.Format != "fwknoprc" {
		t.Fatalf("format %q", res.Format)
	}
	return res
}

func byName(res *ImportResult) map[string]*Profile {
	m := map[string]*Profile{}
	for _, p := range res.Profiles {
		m[p.Name] = p
	}
	return m
}

// TestImportFwknoprcSemantics: stanzas are read as fwknop's client reads
// them, and every setting reaches the profile.
func TestImportFwknoprcSemantics(t *testing.T) {
	data, err := os.ReadFile("../fwknoprc/testdata/fwknoprc-all")
	if err != nil {
		t.Fatal(err)
	}
	// [legacy] inherits [default]'s HMAC key: fwknop refuses it, and so
	// does the import, with its line (TestImportFwknoprcErrors).
	if _, err := Import("rc", data, ImportOptions{}); err == nil || !strings.Contains(err.Error(), "rc:28: ENCRYPTION_MODE: legacy encryption mode is incompatible with HMAC") {
		t.Fatalf("legacy: %v", err)
	}
	all := []string{"digests", "nat", "natport", "natrand", "local", "raw", "http", "gpg"}
	res := importRC(t, "rc", string(data), ImportOptions{Only: all})
	ps := byName(res)
	d := ps["digests"]
	if d == nil {
		t.Fatalf("no digests profile; warnings %q", res.Warnings)
	}
	o, err := d.SPA.Options()
	if err != nil {
		t.Fatal(err)
	}
	// USE_HMAC N in [default] does not drop the HMAC key.
	if len(o.Keys.HMAC) != 64 || o.Keys.HMACDigest != spa.DigestSHA3_512 || o.Digest != spa.DigestSHA384 ||
		o.Proto != "tcp" || o.Port != 62202 || o.SourcePort != 40001 || o.User != "mbrtest" || o.AllowIP != "198.51.100.1" ||
		d.Host != "198.51.100.2" || d.WaitPort != 22 || d.Family != "inet" {
		t.Fatalf("digests: %+v %+v", d, o)
	}
	// NAT access waits on the port fwknopd forwards: ACCESS, or NAT_PORT;
	// a spoofed source opens for that address, which knock cannot check.
	for name, want := range map[string]uint16{"nat": 22, "natport": 55000, "natrand": 0, "local": 22, "raw": 0} {
		p := ps[name]
		if p == nil {
			t.Fatalf("no %s profile; warnings %q", name, res.Warnings)
		}
		if p.WaitPort != want {
			t.Errorf("%s: wait port %d, want %d", name, p.WaitPort, want)
		}
	}
	if n := ps["natrand"].SPA; !n.NATRandPort || n.NATAccess != "198.51.100.2:2222" {
		t.Fatalf("natrand: %+v", n)
	}
	if r := ps["raw"].SPA; r.Proto != "udpraw" || r.SpoofSource != "198.51.100.77" || !r.RandPort {
		t.Fatalf("raw: %+v", r)
	}
	if h := ps["http"].SPA; h.AllowIP != "resolve" || h.ResolveURL != "http://198.51.100.2:8080/myip" || !h.HTTPOnly || h.UserAgent != "Fwknop/custom" {
		t.Fatalf("http: %+v", h)
	}
	// GPG without a keyring: not imported, and the warning says how.
	if ps["gpg"] != nil {
		t.Fatal("gpg imported without keys")
	}
	warnings := strings.Join(res.Warnings, "\n")
	for _, want := range []string{
		"stanza [gpg]: USE_GPG: knock reads no GnuPG home (GPG_HOMEDIR); export the keys (gpg --export 361BBAD4 > keys.asc; gpg --export-secret-keys 6A3FAD56 >> keys.asc; chmod 600 keys.asc) and import again with --gpg-keyring keys.asc; not imported",
		"VERBOSE: ignored",
	} {
		if !strings.Contains(warnings, want) {
			t.Errorf("warnings lack %q:\n%s", want, warnings)
		}
	}
	// [default]'s lines are warned about once, not per stanza.
	if n := strings.Count(warnings, "VERBOSE"); n != 1 {
		t.Errorf("VERBOSE warned %d times", n)
	}
}

// The legacy stanza fails because of its inherited HMAC key: the whole
// file is then refused with file:line. Check it alone.
func TestImportFwknoprcErrors(t *testing.T) {
	tests := []struct {
		rc, want string
	}{
		{"[default]\nHMAC_KEY h\n[x]\nKEY k\nENCRYPTION_MODE legacy\nACCESS tcp/22\n", "rc:5: ENCRYPTION_MODE: legacy encryption mode is incompatible with HMAC"},
		{"[x]\nACCESS tcp/22\nKEY samekey\nHMAC_KEY samekey\n", "rc:4: stanza [x]: invalid key: HMAC_KEY equals KEY"},
		{"[x]\nACCESS tcp/22\nKEY_BASE64 " + strings.Repeat("QUFB", 12) + "\n", "rc:3: stanza [x]: invalid key: KEY_BASE64 decodes to 36 bytes"},
		{"[x]\nKEY k\nACCESS sctp/22\n", `rc:3: stanza [x]: invalid access request "sctp/22"`},
		{"[x]\nKEY k\nACCESS tcp/22,tcp/80\nNAT_ACCESS 192.0.2.1\nNAT_PORT 5\n", "rc:1: stanza [x]: invalid NAT access: a NAT port works with exactly one proto/port"},
	}
	for _, tt := range tests {
		_, err := Import("rc", []byte(tt.rc), ImportOptions{})
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "samekey") {
			t.Errorf("%q: %v, want %q", tt.rc, err, tt.want)
		}
	}
	// What cannot be sent as fwknop would is skipped with a warning.
	for rc, want := range map[string]string{
		"[x]\nACCESS tcp/22\n":                             "rc:1: stanza [x]: no key in the stanza: no KEY_BASE64 or KEY",
		"[x]\nKEY k\n":                                     "rc:1: stanza [x]: no ACCESS",
		"[x]\nKEY k\nACCESS tcp/22\nKEY_FILE f\n":          "rc:4: KEY_FILE: keys are read from the stanza",
		"[x]\nKEY k\nACCESS tcp/22\nBOGUS 1\n":             "rc:4: BOGUS: unknown variable",
		"[x]\nKEY k\nACCESS tcp/22\nuse_hmac y\n":          "rc:4: use_hmac: unknown variable; fwknop matches names case-sensitively",
		"[x]\nKEY k\nACCESS tcp/22\nUSE_HMAC Y\n":          "no HMAC_KEY_BASE64 or HMAC_KEY",
		"[x]\nKEY k\nACCESS tcp/22\nENCRYPTION_MODE ofb\n": `rc:4: ENCRYPTION_MODE: encryption mode "ofb" is not supported`,
	} {
		res, err := Import("rc", []byte(rc), ImportOptions{})
		if err != nil {
			t.Errorf("%q: %v", rc, err)
			continue
		}
		if len(res.Profiles) != 0 || !strings.Contains(strings.Join(res.Warnings, "\n"), want) {
			t.Errorf("%q: %d profiles, warnings %q, want %q", rc, len(res.Profiles), res.Warnings, want)
		}
	}
}

// TestImportFwknoprcDefaultOnly: a file with [default] alone is what
// fwknop uses without -n: one profile, named after the file or --as.
func TestImportFwknoprcDefaultOnly(t *testing.T) {
	rc := "[default]\nSPA_SERVER 198.51.100.2\nACCESS tcp/22\nKEY_BASE64 " + testKey + "\nHMAC_KEY_BASE64 " + testHMAC + "\nUSE_GPG_AGENT N\n"
	res := importRC(t, "/home/u/.fwknoprc", rc, ImportOptions{})
	if len(res.Profiles) != 1 || res.Profiles[0].Name != "fwknoprc" || res.Profiles[0].WaitPort != 22 {
		t.Fatalf("profiles %+v warnings %q", res.Profiles, res.Warnings)
	}
	res = importRC(t, "-", rc, ImportOptions{As: "lab"})
	if len(res.Profiles) != 1 || res.Profiles[0].Name != "lab" {
		t.Fatalf("--as: %+v", res.Profiles)
	}
	if res := importRC(t, "fwknoprc_hmac_defaults", rc, ImportOptions{}); res.Profiles[0].Name != "fwknoprc_hmac_defaults" {
		t.Fatalf("named %q", res.Profiles[0].Name)
	}
}

// TestImportSelect: --only picks stanzas or doors by their name in the
// file or their profile's; --as renames the one profile.
func TestImportSelect(t *testing.T) {
	rc := "[default]\nKEY k\nACCESS tcp/22\n[Web Server]\nSPA_SERVER 198.51.100.2\n[db]\nSPA_SERVER 198.51.100.3\n"
	res := importRC(t, "rc", rc, ImportOptions{Only: []string{"web server"}})
	if len(res.Profiles) != 1 || res.Profiles[0].Name != "web-server" {
		t.Fatalf("--only by stanza: %+v", res.Profiles)
	}
	res = importRC(t, "rc", rc, ImportOptions{Only: []string{"db"}, As: "database"})
	if len(res.Profiles) != 1 || res.Profiles[0].Name != "database" || res.Profiles[0].Host != "198.51.100.3" {
		t.Fatalf("--only --as: %+v", res.Profiles)
	}
	if _, err := Import("rc", []byte(rc), ImportOptions{As: "x"}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "--as names one profile, but the file yields 2 (web-server, db); pick one with --only") {
		t.Fatalf("--as with two: %v", err)
	}
	if _, err := Import("rc", []byte(rc), ImportOptions{Only: []string{"nope"}}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "--only nope") {
		t.Fatalf("--only nope: %v", err)
	}
	knockd := "[openSSH]\nsequence = 7000,8000\n[closeSSH]\nsequence = 8000,7000\n[web]\nsequence = 1,2\n"
	for _, only := range []string{"openssh", "closeSSH", "ssh"} {
		res, err := Import("knockd.conf", []byte(knockd), ImportOptions{Only: []string{only}, As: "ssh-door"})
		if err != nil || len(res.Profiles) != 1 || res.Profiles[0].Name != "ssh-door" || res.Profiles[0].Close == "" {
			t.Fatalf("knockd --only %s: %v %+v", only, err, res)
		}
	}
}

// TestImportFwknoprcGPG: with an exported keyring, a GPG stanza keeps
// only the two keys it uses, still locked, and its passphrase.
func TestImportFwknoprcGPG(t *testing.T) {
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA}
	server, _ := openpgp.NewEntity("fwknopd", "", "server@example.org", cfg)
	client, _ := openpgp.NewEntity("knock", "", "client@example.org", cfg)
	other, _ := openpgp.NewEntity("other", "", "other@example.org", cfg)
	if err := client.EncryptPrivateKeys([]byte("pw"), nil); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	_ = server.Serialize(&buf)
	_ = other.Serialize(&buf)
	_ = client.SerializePrivateWithoutSigning(&buf, nil)
	ring, err := spa.ReadGPGKeyring(&buf)
	if err != nil {
		t.Fatal(err)
	}
	rc := "[default]\nSPA_SERVER 198.51.100.2\nACCESS tcp/22\nHMAC_KEY_BASE64 " + testHMAC + "\n" +
		"[g]\nUSE_GPG Y\nGPG_RECIPIENT server@example.org\nGPG_SIGNER client@example.org\nGPG_HOMEDIR /home/u/.gnupg\nGPG_SIGNING_PW pw\n" +
		"[nopw]\nUSE_GPG Y\nGPG_RECIPIENT server@example.org\nGPG_SIGNER client@example.org\nUSE_GPG_AGENT Y\n"
	res := importRC(t, "rc", rc, ImportOptions{GPGKeyring: ring})
	ps := byName(res)
	g := ps["g"]
	if g == nil || ps["nopw"] != nil {
		t.Fatalf("profiles %v warnings %q", ps, res.Warnings)
	}
	warnings := strings.Join(res.Warnings, "\n")
	for _, want := range []string{"rc:9: GPG_HOMEDIR: ignored", "rc:14: stanza [nopw]: GPG: signer \"client@example.org\": the private key is locked", "rc:15: USE_GPG_AGENT: knock talks to no gpg-agent"} {
		if !strings.Contains(warnings, want) {
			t.Errorf("warnings lack %q:\n%s", want, warnings)
		}
	}
	if strings.Contains(warnings, "pw\n") {
		t.Error("the passphrase in a warning")
	}
	b, err := Encode(g)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	o, err := back.SPA.Options()
	if err != nil {
		t.Fatal(err)
	}
	if o.GPG == nil || string(o.GPG.SigningPW) != "pw" || len(o.Keys.HMAC) != 64 || len(o.Keys.Enc) != 0 {
		t.Fatalf("gpg options %+v", o)
	}
	kept, err := spa.ReadGPGKeyring(bytes.NewReader(o.GPG.Keyring))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kept.Find("other@example.org"); err == nil {
		t.Fatal("the profile kept a key it does not use")
	}
	if _, err := kept.Keys("server@example.org", "client@example.org", nil); err == nil {
		t.Fatal("the profile keeps the signer's key unlocked")
	}
	if _, err := spa.NewClient(o); err != nil {
		t.Fatal(err)
	}
}

// FuzzImportFwknoprc: the fwknoprc importer never panics, and what it
// returns is valid.
func FuzzImportFwknoprc(f *testing.F) {
	for _, name := range []string{"../fwknoprc/testdata/fwknoprc-all", "../fwknoprc/testdata/fwknoprc"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("[default]\nKEY k\nACCESS tcp/22\nNAT_LOCAL Y\nNAT_RAND_PORT Y\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := importFwknoprcOnly(b)
		if err != nil {
			return
		}
		for _, p := range res {
			if err := p.Validate(); err != nil {
				t.Fatalf("import returned an invalid profile: %v", err)
			}
		}
	})
}

func importFwknoprcOnly(b []byte) ([]*Profile, error) {
	ps, _, err := importFwknoprc("fuzz", b, ImportOptions{})
	for _, p := range ps {
		if err := p.Normalize(); err != nil {
			return nil, err
		}
	}
	return ps, err
}
