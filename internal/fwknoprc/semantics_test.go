package fwknoprc

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/a-knock/knock/internal/spa"
)

var server = netip.MustParseAddr("198.51.100.2")

func resolveAll(t *testing.T) *File {
	t.Helper()
	f, err := ParseFile("testdata/fwknoprc-all")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestFwknoprcDefaultOnly: fwknop without -n uses [default] alone, and a
// named stanza inherits it line by line.
func TestFwknoprcDefaultOnly(t *testing.T) {
	f := resolveAll(t)
	c, err := f.Resolve("DEFAULT")
	if err != nil {
		t.Fatal(err)
	}
	if c.Server != "198.51.100.2" || c.Access != "tcp/22" || c.AllowIP != "" || c.Resolve || len(c.Fatal()) != 0 {
		t.Fatalf("default: %+v fatal %v", c, c.Fatal())
	}
	k, err := c.Keys()
	if err != nil {
		t.Fatal(err)
	}
	// USE_HMAC N does not drop the HMAC key (client/config_init.c sets
	// use_hmac for every HMAC key line; N never clears it).
	if len(k.HMAC) != 64 || len(k.Enc) != 32 || k.HMACDigest != spa.DigestSHA256 || !c.UseHMAC || !c.UseHMACSet {
		t.Fatalf("keys: enc %d hmac %d digest %v use %v", len(k.Enc), len(k.HMAC), k.HMACDigest, c.UseHMAC)
	}
	// USE_GPG_AGENT N asks for nothing GPG and is no issue.
	for _, i := range c.Issues {
		if i.Name == "USE_GPG_AGENT" || i.Name == "USE_HMAC" {
			t.Fatalf("issue for %s", i)
		}
	}
	if _, err := Parse("rc", strings.NewReader("[a]\nKEY x\n")); err != nil {
		t.Fatal(err)
	}
	noDefault, _ := Parse("rc", strings.NewReader("[a]\nKEY x\n"))
	if _, err := noDefault.Resolve("default"); !errors.Is(err, ErrNoStanza) {
		t.Fatalf("missing [default]: %v", err)
	}
}

func TestFwknoprcAllVariables(t *testing.T) {
	f := resolveAll(t)
	get := func(name string) *Config {
		t.Helper()
		c, err := f.Resolve(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return c
	}

	d := get("Digests") // names match ignoring case
	if d.HMACDigest != spa.DigestSHA3_512 || d.Digest != spa.DigestSHA384 || d.Proto != "tcp" ||
		d.ServerPort != 62202 || d.SourcePort != 40001 || d.TimeOffset != -time.Second || d.FWTimeout != 45 ||
		d.SpoofUser != "mbrtest" || d.AllowIP != "198.51.100.1" {
		t.Fatalf("digests: %+v", d)
	}
	req, err := d.Request(server)
	if err != nil {
		t.Fatal(err)
	}
	if req.User != "mbrtest" || req.AllowIP.String() != "198.51.100.1" || req.ClientTimeout != 45 || req.Digest != spa.DigestSHA384 || req.MsgType() != spa.TypeClientTimeout {
		t.Fatalf("digests request: %+v", req)
	}
	tr, err := d.Transport(server)
	if err != nil || tr.Proto != spa.TCP || tr.Dst.String() != "198.51.100.2:62202" || tr.SrcPort != 40001 || tr.Host != "198.51.100.2" {
		t.Fatalf("digests transport: %+v %v", tr, err)
	}
	k, _ := d.Keys()
	if k.HMACDigest != spa.DigestSHA3_512 {
		t.Fatalf("digests keys: %v", k.HMACDigest)
	}

	if _, err := f.Resolve("legacy"); err == nil || !strings.Contains(err.Error(), "legacy encryption mode is incompatible with HMAC") {
		t.Fatalf("legacy with the inherited HMAC key: %v", err)
	}

	waits := map[string]uint16{"nat": 22, "natport": 55000, "natrand": 0, "local": 22, "raw": 22, "digests": 22}
	types := map[string]spa.MsgType{"nat": spa.TypeNATAccess, "natport": spa.TypeNATAccess, "natrand": spa.TypeNATAccess, "local": spa.TypeLocalNATClientTimeout}
	for name, want := range waits {
		c := get(name)
		if got := c.WaitPort(); got != want {
			t.Errorf("%s: wait port %d, want %d", name, got, want)
		}
		if typ, ok := types[name]; ok {
			r, err := c.Request(server)
			if err != nil || r.MsgType() != typ {
				t.Errorf("%s: %v type %v want %v", name, err, r.MsgType(), typ)
			}
		}
	}
	np := get("natport")
	r, _ := np.Request(server)
	if r.NATPort != 55000 || r.NAT.Port != 0 || r.NAT.Host != server {
		t.Fatalf("natport request %+v nat %+v", r, r.NAT)
	}
	nr := get("natrand")
	r, _ = nr.Request(server)
	if !r.NATRandPort || r.NAT.Port != 2222 {
		t.Fatalf("natrand request %+v", r)
	}
	loc := get("local")
	r, _ = loc.Request(server)
	if !r.NATLocal || r.NAT.String() != "198.51.100.2,22" || r.ClientTimeout != 9 {
		t.Fatalf("local request %+v", r)
	}

	raw := get("raw")
	tr, err = raw.Transport(server)
	if err != nil || tr.Proto != spa.UDPRaw || tr.Src.String() != "198.51.100.77" || !raw.RandPort {
		t.Fatalf("raw: %+v %v", tr, err)
	}

	h := get("http")
	if !h.Resolve || h.AllowIP != "" || h.ResolveURL != "http://198.51.100.2:8080/myip" || !h.HTTPOnly || h.UserAgent != "Fwknop/custom" {
		t.Fatalf("http: %+v", h)
	}
	r, err = h.Request(server)
	if err != nil || r.AllowIP.IsValid() {
		t.Fatalf("http request: %+v %v", r, err)
	}
	if len(h.Fatal()) != 0 {
		t.Fatalf("http: fatal %v", h.Fatal())
	}

	g := get("gpg")
	if !g.UseGPG || !g.UseGPGAgent || g.GPGRecipient != "361BBAD4" || g.GPGSigner != "6A3FAD56" ||
		g.GPGHomeDir != "/home/u/.gnupg" || g.GPGSigningPW != "signing passphrase" || len(g.Fatal()) != 0 {
		t.Fatalf("gpg: %+v fatal %v", g, g.Fatal())
	}
	gk, err := g.Keys()
	if err != nil || len(gk.Enc) != 0 || len(gk.HMAC) != 64 {
		t.Fatalf("gpg keys: enc %d hmac %d %v", len(gk.Enc), len(gk.HMAC), err)
	}
}

// TestFwknoprcKeyPrecedence: as fwknop's get_keys, KEY wins over
// KEY_BASE64 and HMAC_KEY over HMAC_KEY_BASE64, whatever the order.
func TestFwknoprcKeyPrecedence(t *testing.T) {
	in := "[a]\nKEY_BASE64 wzNP62oPPgEc+kXDPQLHPOayQBuNbYUTPP+QrErNDmg=\nKEY plain\nHMAC_KEY other\nHMAC_KEY_BASE64 Yh+xizBnl6FotC5ec7FanVGClRMlsOAPh2u6eovnerfBVKwaVKzjGoblFMHMc593TNyi0dWn4opLoTIV9q/ttg==\n"
	f, _ := Parse("rc", strings.NewReader(in))
	c, err := f.Resolve("a")
	if err != nil {
		t.Fatal(err)
	}
	k, err := c.Keys()
	if err != nil || string(k.Enc) != "plain" || string(k.HMAC) != "other" {
		t.Fatalf("keys %q %q %v", k.Enc, k.HMAC, err)
	}
	for in, want := range map[string]error{
		"[a]\nACCESS tcp/22\n":                                 ErrNoKey,
		"[a]\nKEY k\nUSE_HMAC y\n":                             ErrNoKey,
		"[a]\nKEY samekey\nHMAC_KEY samekey\n":                 spa.ErrBadKey,
		"[a]\nKEY_BASE64 " + strings.Repeat("QUFB", 12) + "\n": spa.ErrBadKey,
	} {
		f, _ := Parse("rc", strings.NewReader(in))
		c, err := f.Resolve("a")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Keys(); !errors.Is(err, want) {
			t.Errorf("%q: %v, want %v", in, err, want)
		}
	}
}

// TestFwknoprcStanzas: names match ignoring case; a repeated stanza
// continues the first, and later lines win; text after ']' is ignored.
func TestFwknoprcStanzas(t *testing.T) {
	in := "[Default]\nSPA_SERVER_PORT 1\n[web] trailing words\nACCESS tcp/80\n[a]\nACCESS tcp/1\n[WEB]\nACCESS tcp/443\nFW_TIMEOUT: 5\n"
	f, err := Parse("rc", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	quirk, _ := Parse("rc", strings.NewReader("[default]\nALLOW_IP source\n[r]\nALLOW_IP resolve\n"))
	if c, err := quirk.Resolve("r"); err != nil || c.Resolve || c.AllowIP != "source" {
		t.Fatalf("ALLOW_IP resolve after source: %+v %v (fwknop keeps the address)", c, err)
	}
	if strings.Join(f.Names(), ",") != "web,a" {
		t.Fatalf("names %v", f.Names())
	}
	c, err := f.Resolve("Web")
	if err != nil {
		t.Fatal(err)
	}
	if c.Access != "tcp/443" || c.FWTimeout != 5 || c.ServerPort != 1 || c.Lines["ACCESS"] != 8 {
		t.Fatalf("web: %+v", c)
	}
}

func TestFwknoprcRefused(t *testing.T) {
	for in, want := range map[string]string{
		"[a]\nSPOOF_SOURCE_IP 198.51.100.7\n":                       "SPOOF_SOURCE_IP: a spoofed source needs SPA_SERVER_PROTO udpraw",
		"[a]\nSPOOF_SOURCE_IP 2001:db8::7\nSPA_SERVER_PROTO icmp\n": "SPOOF_SOURCE_IP: invalid spoofed source",
		"[a]\nUSE_GPG Y\n":                                   "USE_GPG: GPG needs GPG_RECIPIENT",
		"[a]\nALLOW_IP myhost\n":                             `ALLOW_IP: invalid address "myhost"`,
		"[a]\nHMAC_DIGEST_TYPE sha224\n":                     `HMAC_DIGEST_TYPE: invalid digest type "sha224"`,
		"[a]\nENCRYPTION_MODE rot13\n":                       `ENCRYPTION_MODE: invalid encryption mode "rot13"`,
		"[a]\nNAT_ACCESS host.example,22\n":                  "NAT_ACCESS: invalid NAT access",
		"[a]\nSPOOF_USER a:b\n":                              "SPOOF_USER: invalid user name",
		"[a]\nKEY_BASE64 *notbase64*\n":                      "KEY_BASE64: value is not base64",
		"[a]\nRESOLVE_URL https://x/\nRESOLVE_HTTP_ONLY Y\n": "RESOLVE_URL: https is not supported with RESOLVE_HTTP_ONLY",
		"[a]\nFW_TIMEOUT 200000\n":                           "FW_TIMEOUT: invalid timeout",
	} {
		f, err := Parse("rc", strings.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.Resolve("a")
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "rc:") {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}
