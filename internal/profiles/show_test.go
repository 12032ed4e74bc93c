package profiles

import (
	"strings"
	"testing"
)

// Rows never shows a secret unless asked, and shows every setting.
func TestRowsHideSecrets(t *testing.T) {
	secrets := []string{"7001:tcp,7002:udp", "7002:udp,7001:tcp", "c2VjcmV0LWtleS0xMjM0NQ", "aG1hYy1rZXktNjc4OTA", "0707070707"}
	ps := []*Profile{
		{Name: "seq", Open: secrets[0], Close: secrets[1], Notes: "line\nbreak", Forwards: []string{"127.0.0.1:15432:5432"}},
		{Name: "spa", Kind: KindSPA, SPA: &SPAConfig{KeyBase64: secrets[2], HMACKeyBase64: secrets[3], Access: []string{"tcp/22"}, Proto: "http", FWTimeout: 30, NATAccess: "192.0.2.9,22"}},
		{Name: "otp", Kind: KindOTP, OTP: &OTPConfig{Secret: []byte{7, 7, 7, 7, 7}, Counter: 3, PortLo: 1, PortHi: 9}},
	}
	for _, p := range ps {
		hidden := text(p.Rows(StoreFile, false))
		for _, s := range secrets {
			if strings.Contains(hidden, s) {
				t.Errorf("%s: secret %q shown without --reveal:\n%s", p.Name, s, hidden)
			}
		}
		if !strings.Contains(hidden, "(hidden") {
			t.Errorf("%s: nothing hidden:\n%s", p.Name, hidden)
		}
	}
	if r := text(ps[0].Rows(StoreFile, true)); !strings.Contains(r, secrets[0]) || !strings.Contains(r, "forwards: 127.0.0.1:15432:5432") || !strings.Contains(r, "notes: line break") {
		t.Errorf("revealed sequence profile:\n%s", r)
	}
	if r := text(ps[1].Rows(StoreFile, false)); !strings.Contains(r, "spa-proto: http") || !strings.Contains(r, "spa-fw-timeout: 30 s") || !strings.Contains(r, "spa-nat-access: 192.0.2.9,22") {
		t.Errorf("SPA settings missing:\n%s", r)
	}
	if r := text(ps[2].Rows(StoreFile, true)); !strings.Contains(r, "otp-secret: "+secrets[4]) || !strings.Contains(r, "otp-counter: 3") {
		t.Errorf("revealed one-time profile:\n%s", r)
	}
}

func text(rows []Row) string {
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(r.Field + ": " + r.Value + "\n")
	}
	return b.String()
}
