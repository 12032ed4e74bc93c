package fwknoprc

import (
	"strings"
	"testing"
	"time"

	"github.com/a-knock/knock/internal/exit"
)

const (
	testKey  = "wzNP62oPPgEc+kXDPQLHPOayQBuNbYUTPP+QrErNDmg="
	testHMAC = "Yh+xizBnl6FotC5ec7FanVGClRMlsOAPh2u6eovnerfBVKwaVKzjGoblFMHMc593TNyi0dWn4opLoTIV9q/ttg=="
)

func TestArgs(t *testing.T) {
	base := Args{Access: []string{"tcp/22"}, KeyB64: testKey, HMACKeyB64: testHMAC, KeyVars: "K and H"}
	o, err := base.Options()
	if err != nil || len(o.Keys.HMAC) == 0 || o.Access[0] != "tcp/22" {
		t.Fatalf("%+v %v", o, err)
	}
	with := func(f func(*Args)) Args { a := base; f(&a); return a }
	o, err = with(func(a *Args) { a.TimeMinus = "2min"; a.SourceIP = true; a.TCP = true }).Options()
	if err != nil || o.TimeOffset != -2*time.Minute || o.AllowIP != "source" || o.Proto != "tcp" {
		t.Fatalf("%+v %v", o, err)
	}
	if o, err := with(func(a *Args) { a.ResolveURL = "https://example.org/ip" }).Options(); err != nil || o.AllowIP != "resolve" {
		t.Errorf("a resolve URL asks for resolving: %+v %v", o, err)
	}
	for name, tc := range map[string]struct {
		a    Args
		want string
	}{
		"nothing asked": {with(func(a *Args) { a.Access = nil }), "nothing asked"},
		"both asked":    {with(func(a *Args) { a.Command = "touch x" }), "--access and --server-cmd exclude each other"},
		"ports":         {with(func(a *Args) { a.Port = 1; a.RandPort = true }), "--server-port and --rand-port"},
		"offsets":       {with(func(a *Args) { a.TimeOffset = "1"; a.TimePlus = "2" }), "--time-offset and --time-offset-plus"},
		"bad offset":    {with(func(a *Args) { a.TimePlus = "soon" }), "--time-offset-plus"},
		"no key":        {with(func(a *Args) { a.KeyB64 = "" }), "no SPA key: give --key-file FILE (see knock spa keygen) or set K and H"},
		"bad digest":    {with(func(a *Args) { a.Digest = "crc32" }), "crc32"},
		"gpg alone":     {with(func(a *Args) { a.GPG = true }), "--gpg-encryption needs --gpg-recipient-key"},
		"no keyring":    {with(func(a *Args) { a.GPGRecipient = "ABCD1234" }), "--gpg-keyring FILE"},
		"signer alone":  {with(func(a *Args) { a.GPGSigner = "ABCD1234" }), "need --gpg-recipient-key"},
	} {
		_, err := tc.a.Options()
		if err == nil || !strings.Contains(err.Error(), tc.want) || exit.Code(err) != exit.UsageCode {
			t.Errorf("%s: %v, want a usage error with %q", name, err, tc.want)
		}
		if err != nil && (strings.Contains(err.Error(), testKey) || strings.Contains(err.Error(), testHMAC)) {
			t.Errorf("%s: a key in the error: %v", name, err)
		}
	}
}
