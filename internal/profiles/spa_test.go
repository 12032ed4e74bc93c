package profiles

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/a-knock/knock/internal/spa"
)

const (
	testKey  = "wzNP62oPPgEc+kXDPQLHPOayQBuNbYUTPP+QrErNDmg="
	testHMAC = "Yh+xizBnl6FotC5ec7FanVGClRMlsOAPh2u6eovnerfBVKwaVKzjGoblFMHMc593TNyi0dWn4opLoTIV9q/ttg=="
)

// spaOptionCases are requests that together set every option of
// spa.Options (checked by TestSPAConfigRoundTrip).
func spaOptionCases(t *testing.T) map[string]spa.Options {
	keys, err := spa.ParseKeys(testKey, testHMAC)
	if err != nil {
		t.Fatal(err)
	}
	keys.HMACDigest = spa.DigestSHA384
	legacy := spa.Keys{Enc: []byte("fwknoptest"), Mode: spa.ModeLegacy}
	hmacOnly := spa.Keys{HMAC: keys.HMAC, HMACDigest: spa.DigestMD5}
	return map[string]spa.Options{
		"nat": {
			Access:      []string{"tcp/22"},
			AllowIP:     "198.51.100.7",
			FWTimeout:   45,
			NAT:         "192.0.2.10,2222",
			NATPort:     55000,
			User:        "alice",
			Digest:      spa.DigestSHA3_512,
			TimeOffset:  -90 * time.Second,
			Proto:       "udpraw",
			Port:        62202,
			RandPort:    true,
			SourcePort:  40001,
			SpoofSource: "198.51.100.77",
			UserAgent:   "Fwknop/knock",
			Keys:        keys,
		},
		"resolve": {
			Access:     []string{"tcp/2222"},
			AllowIP:    "resolve",
			ResolveURL: "http://198.51.100.2:8080/myip",
			HTTPOnly:   true,
			NATLocal:   true,
			NATRand:    true,
			Proto:      "icmp",
			ICMPType:   8,
			ICMPCode:   1,
			Keys:       legacy,
		},
		"command gpg": {
			Command: "touch /tmp/knock",
			Keys:    hmacOnly,
			GPG: &spa.GPGOptions{
				Recipient: "ABCD1234",
				Signer:    "client@example.org",
				Keyring:   []byte{0x99, 0x01, 0x0d},
				SigningPW: []byte("pass phrase"),
			},
		},
	}
}

// Every option of an SPA request survives a save: into the profile, its
// JSON record, and back.
func TestSPAConfigRoundTrip(t *testing.T) {
	cases := spaOptionCases(t)
	set := map[string]bool{}
	for name, want := range cases {
		p := &Profile{Name: "fw", Kind: KindSPA, SPA: NewSPAConfig(want)}
		b, err := EncodeList([]*Profile{p})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ps, err := DecodeList(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := ps[0].SPA.Options()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s after a save:\n got %+v\nwant %+v", name, got, want)
		}
		if !reflect.DeepEqual(ps[0].Clone(), ps[0]) {
			t.Fatalf("%s: Clone differs", name)
		}
		v := reflect.ValueOf(want)
		for i := 0; i < v.NumField(); i++ {
			if !v.Field(i).IsZero() {
				set[v.Type().Field(i).Name] = true
			}
		}
		k := reflect.ValueOf(want.Keys)
		for i := 0; i < k.NumField(); i++ {
			if !k.Field(i).IsZero() {
				set["Keys."+k.Type().Field(i).Name] = true
			}
		}
	}
	// Every field of spa.Options (and of its keys, but the parsed GPG
	// keys, which a profile keeps as GPG.Keyring) is set by some case
	// above: a new option must be kept too.
	for _, typ := range []reflect.Type{reflect.TypeOf(spa.Options{}), reflect.TypeOf(spa.Keys{})} {
		for i := 0; i < typ.NumField(); i++ {
			name := typ.Field(i).Name
			if typ.Name() == "Keys" {
				if name == "GPG" {
					continue
				}
				name = "Keys." + name
			}
			if !set[name] {
				t.Errorf("no case sets %s; extend spaOptionCases and SPAConfig", name)
			}
		}
	}
	if n := reflect.TypeOf(spa.Options{}).NumField(); n != 23 {
		t.Errorf("spa.Options has %d fields; extend spaOptionCases and SPAConfig", n)
	}
}

// A stored record with a bad SPA value is an invalid profile, and the
// message names the value, never a key.
func TestSPAConfigValidate(t *testing.T) {
	base := func() *SPAConfig {
		return &SPAConfig{KeyBase64: testKey, HMACKeyBase64: testHMAC, UseHMAC: true, Access: []string{"tcp/22"}}
	}
	tests := []struct {
		name string
		edit func(c *SPAConfig)
		want string
	}{
		{"hmac digest", func(c *SPAConfig) { c.HMACDigest = "sha2" }, `invalid digest type "sha2"`},
		{"digest", func(c *SPAConfig) { c.Digest = "crc32" }, `invalid digest type "crc32"`},
		{"mode", func(c *SPAConfig) { c.Mode = "ecb" }, `invalid encryption mode "ecb"`},
		{"legacy hmac", func(c *SPAConfig) { c.Mode = "legacy" }, "legacy encryption mode works without HMAC"},
		{"access", func(c *SPAConfig) { c.Access = []string{"sctp/22"} }, `unknown protocol "sctp"`},
		{"no access", func(c *SPAConfig) { c.Access = nil }, "no proto/port given"},
		{"allow ip", func(c *SPAConfig) { c.AllowIP = "2001:db8::1" }, "IPv4 addresses only"},
		{"resolve url", func(c *SPAConfig) { c.AllowIP, c.ResolveURL = "resolve", "ftp://x/" }, `resolve URL "ftp://x/"`},
		{"url without resolve", func(c *SPAConfig) { c.ResolveURL = "http://x/" }, "needs the allow IP resolve"},
		{"nat", func(c *SPAConfig) { c.NATAccess = "host.example,22" }, `invalid NAT access "host.example,22"`},
		{"nat port", func(c *SPAConfig) { c.NATPort = 5 }, "a NAT port needs NAT access"},
		{"user", func(c *SPAConfig) { c.User = "a:b" }, `invalid user name "a:b"`},
		{"proto", func(c *SPAConfig) { c.Proto = "sctp" }, `invalid SPA transport protocol "sctp"`},
		{"spoof", func(c *SPAConfig) { c.SpoofSource = "198.51.100.9" }, `spoofed source "198.51.100.9"`},
		{"icmp", func(c *SPAConfig) { c.ICMPType = 8 }, "needs the icmp transport"},
		{"agent", func(c *SPAConfig) { c.UserAgent = "a\r\nX: y" }, "user agent"},
		{"command", func(c *SPAConfig) { c.Command = "ls" }, "a server command goes without ports"},
		{"timeout", func(c *SPAConfig) { c.FWTimeout = -1 }, "invalid client timeout -1"},
		{"gpg no keys", func(c *SPAConfig) { c.KeyBase64, c.GPGRecipient = "", "ABCD1234" }, `GPG recipient "ABCD1234" without the keys`},
		{"gpg and key", func(c *SPAConfig) { c.GPGRecipient, c.GPGKeyring = "ABCD1234", []byte{1} }, "KEY_BASE64 is set for a GPG profile"},
		{"gpg too big", func(c *SPAConfig) {
			c.KeyBase64, c.GPGRecipient, c.GPGKeyring = "", "ABCD1234", make([]byte, MaxGPGKeyring+1)
		}, "a profile keeps at most"},
		{"signer alone", func(c *SPAConfig) { c.GPGSigner = "x" }, "GPG keys without a recipient"},
		{"same keys", func(c *SPAConfig) { c.HMACKeyBase64 = testKey }, "HMAC_KEY_BASE64 equals KEY_BASE64"},
		{"use hmac", func(c *SPAConfig) { c.HMACKeyBase64 = "" }, "USE_HMAC is set but HMAC_KEY_BASE64 is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			tt.edit(c)
			p := &Profile{Name: "fw", Kind: KindSPA, SPA: c}
			err := p.Validate()
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), testKey) || strings.Contains(err.Error(), testHMAC) {
				t.Fatal("a key in the message")
			}
			if _, err := Encode(p); err == nil {
				t.Fatal("Encode took an invalid profile")
			}
		})
	}
	if err := (&Profile{Name: "fw", Kind: KindSPA, SPA: base()}).Validate(); err != nil {
		t.Fatal(err)
	}
}
