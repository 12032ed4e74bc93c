package fwknoprc

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/a-knock/knock/internal/spa"
)

// TestFwknoprcOptions: a stanza becomes the request knock's SPA client
// sends, every setting kept.
func TestFwknoprcOptions(t *testing.T) {
	f := resolveAll(t)
	opts := func(name string) spa.Options {
		t.Helper()
		c, err := f.Resolve(name)
		if err != nil {
			t.Fatal(err)
		}
		o, err := c.Options()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := spa.NewClient(o); err != nil && !c.UseGPG {
			t.Fatalf("%s: %v", name, err)
		}
		return o
	}
	d := opts("digests")
	if d.Digest != spa.DigestSHA384 || d.Keys.HMACDigest != spa.DigestSHA3_512 || d.Proto != "tcp" || d.Port != 62202 ||
		d.SourcePort != 40001 || d.TimeOffset != -time.Second || d.FWTimeout != 45 || d.User != "mbrtest" ||
		d.AllowIP != "198.51.100.1" || strings.Join(d.Access, ",") != "tcp/22" || len(d.Keys.HMAC) != 64 {
		t.Fatalf("digests: %+v", d)
	}
	if n := opts("natport"); n.NAT != "198.51.100.2" || n.NATPort != 55000 || n.NATRand {
		t.Fatalf("natport: %+v", n)
	}
	if n := opts("natrand"); n.NAT != "198.51.100.2:2222" || n.NATPort != 0 || !n.NATRand {
		t.Fatalf("natrand: %+v", n)
	}
	if l := opts("local"); !l.NATLocal || l.NAT != "" || l.FWTimeout != 9 {
		t.Fatalf("local: %+v", l)
	}
	if r := opts("raw"); r.Proto != "udpraw" || r.SpoofSource != "198.51.100.77" || !r.RandPort {
		t.Fatalf("raw: %+v", r)
	}
	if h := opts("http"); h.AllowIP != spa.AllowResolve || h.ResolveURL != "http://198.51.100.2:8080/myip" || !h.HTTPOnly || h.UserAgent != "Fwknop/custom" || h.Proto != "http" {
		t.Fatalf("http: %+v", h)
	}
	if g := opts("gpg"); len(g.Keys.Enc) != 0 || len(g.Keys.HMAC) != 64 || g.GPG != nil {
		t.Fatalf("gpg: %+v", g)
	}
	// A NAT port without NAT access is dropped, as fwknop does.
	rc, _ := Parse("rc", strings.NewReader("[a]\nACCESS tcp/22\nKEY k\nNAT_PORT 5\nNAT_RAND_PORT Y\n"))
	c, _ := rc.Resolve("a")
	if o, err := c.Options(); err != nil || o.NATPort != 0 || o.NATRand {
		t.Fatalf("NAT port without NAT: %+v %v", o, err)
	}
	// Bad keys name their line.
	rc, _ = Parse("rc", strings.NewReader("[a]\nACCESS tcp/22\nKEY samekey\n\nHMAC_KEY samekey\n"))
	c, _ = rc.Resolve("a")
	var ve *VarError
	if _, err := c.Options(); !errors.As(err, &ve) || ve.Line != 5 || ve.Name != "HMAC_KEY" || strings.Contains(err.Error(), "samekey") {
		t.Fatalf("same keys: %v", err)
	}
	rc, _ = Parse("rc", strings.NewReader("[a]\nKEY k\nACCESS sctp/22\n"))
	c, _ = rc.Resolve("a")
	if _, err := c.Options(); !errors.As(err, &ve) || ve.Line != 3 || ve.Name != "ACCESS" {
		t.Fatalf("bad access: %v", err)
	}
}

// TestFwknoprcGPGOptions: GPG_RECIPIENT and GPG_SIGNER come from an
// exported keyring, the signer unlocked with GPG_SIGNING_PW.
func TestFwknoprcGPGOptions(t *testing.T) {
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA}
	server, err := openpgp.NewEntity("fwknopd", "", "server@example.org", cfg)
	if err != nil {
		t.Fatal(err)
	}
	client, err := openpgp.NewEntity("knock", "", "client@example.org", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := client.EncryptPrivateKeys([]byte("pw"), nil); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := server.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	if err := client.SerializePrivateWithoutSigning(&buf, nil); err != nil {
		t.Fatal(err)
	}
	ring, err := spa.ReadGPGKeyring(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	rc := "[g]\nACCESS tcp/22\nUSE_GPG Y\nGPG_RECIPIENT server@example.org\nGPG_SIGNER client@example.org\n"
	for pw, want := range map[string]string{"": "no passphrase was given", "GPG_SIGNING_PW nope\n": "wrong passphrase", "GPG_SIGNING_PW pw\n": ""} {
		f, _ := Parse("rc", strings.NewReader(rc+pw))
		c, err := f.Resolve("g")
		if err != nil {
			t.Fatal(err)
		}
		g, err := c.GPGOptions(ring)
		if want != "" {
			if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "nope") {
				t.Errorf("%q: %v, want %q", pw, err, want)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		o, err := c.Options()
		if err != nil {
			t.Fatal(err)
		}
		o.GPG = g
		if _, err := spa.NewClient(o); err != nil {
			t.Fatal(err)
		}
		if string(g.SigningPW) != "pw" || g.Recipient != "server@example.org" {
			t.Fatalf("gpg options %+v", g)
		}
	}
}
