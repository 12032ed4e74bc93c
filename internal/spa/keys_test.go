package spa

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestSPABadInput(t *testing.T) {
	long := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 33))
	hugeHMAC := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 129))
	tests := []struct {
		name, key, hmac string
		want            string
	}{
		{"not base64", "not*base64!", vecHMACKey, "KEY_BASE64 is not valid base64"},
		{"hmac not base64", vecKey, "@@@@", "HMAC_KEY_BASE64 is not valid base64"},
		{"key too long", long, vecHMACKey, "KEY_BASE64 decodes to 33 bytes, fwknop allows 1..32"},
		{"hmac too long", vecKey, hugeHMAC, "HMAC_KEY_BASE64 decodes to 129 bytes"},
		{"same keys", vecKey, vecKey, "the HMAC key must differ from the encryption key"},
		{"empty", "", vecHMACKey, "KEY_BASE64 is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseKeys(tt.key, tt.hmac)
			if err == nil || !errors.Is(err, ErrBadKey) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), vecKey) || strings.Contains(err.Error(), vecHMACKey) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error leaks a key or spans lines: %v", err)
			}
		})
	}
}

func TestSPAAccessErrors(t *testing.T) {
	for in, want := range map[string]string{
		"icmp/22":   `unknown protocol "icmp"`,
		"tcp":       "want proto/port",
		"tcp/0":     "not 1..65535",
		"tcp/99999": "not 1..65535",
		"":          "no proto/port",
	} {
		if _, err := ParseAccess(in); err == nil || !errors.Is(err, ErrBadAccess) || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseAccess(%q) = %v, want %q", in, err, want)
		}
	}
	got, err := ParseAccess("tcp/22, UDP/53", "tcp/443")
	if err != nil || len(got) != 3 || got[1].String() != "udp/53" {
		t.Fatalf("ParseAccess: %v %v", got, err)
	}
}

func TestSPATooLong(t *testing.T) {
	keys, _ := ParseKeys(vecKey, vecHMACKey)
	var acc []Access
	for p := 1000; p < 1020; p++ {
		acc = append(acc, Access{"tcp", uint16(p)})
	}
	_, err := new(Encoder).Encode(Request{Access: acc}, keys)
	if !errors.Is(err, ErrTooLong) || !strings.Contains(err.Error(), "GPG") {
		t.Fatalf("got %v, want ErrTooLong", err)
	}
}

func TestSPAAllowIPAndUser(t *testing.T) {
	if a, err := ParseAllowIP("source"); err != nil || a.IsValid() {
		t.Errorf("source: %v %v", a, err)
	}
	for _, bad := range []string{"resolve", "2001:db8::1", "host.example"} {
		if _, err := ParseAllowIP(bad); !errors.Is(err, ErrBadAllowIP) {
			t.Errorf("ParseAllowIP(%q) = %v", bad, err)
		}
	}
	for _, bad := range []string{"", "a:b", strings.Repeat("x", 49), "sp ace"} {
		if err := ValidUser(bad); !errors.Is(err, ErrBadUser) {
			t.Errorf("ValidUser(%q) = %v", bad, err)
		}
	}
	if _, err := ParseNAT("10.0.0.1:99999"); !errors.Is(err, ErrBadNAT) {
		t.Errorf("ParseNAT: %v", err)
	}
}

func TestSPAKeyGen(t *testing.T) {
	k, err := GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	out := FormatKeyGen(k)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "KEY_BASE64: ") || !strings.HasPrefix(lines[1], "HMAC_KEY_BASE64: ") {
		t.Fatalf("format: %q", out)
	}
	if n := len(strings.TrimPrefix(lines[0], "KEY_BASE64: ")); n != 44 {
		t.Errorf("key is %d characters, want 44", n)
	}
	if n := len(strings.TrimPrefix(lines[1], "HMAC_KEY_BASE64: ")); n != 88 {
		t.Errorf("hmac key is %d characters, want 88", n)
	}
	back, err := ParseKeyFile(strings.NewReader(out))
	if err != nil || !bytes.Equal(back.Enc, k.Enc) || !bytes.Equal(back.HMAC, k.HMAC) {
		t.Fatalf("ParseKeyFile round trip: %v", err)
	}
}

func TestSPAKeyFile(t *testing.T) {
	k, err := ParseKeyFile(strings.NewReader("# keys\nKEY_BASE64\t" + vecKey + "\nHMAC_KEY_BASE64: " + vecHMACKey + "\n"))
	if err != nil || len(k.Enc) != 32 || len(k.HMAC) != 64 {
		t.Fatalf("got %v", err)
	}
	if _, err := ParseKeyFile(strings.NewReader("HMAC_KEY_BASE64 " + vecHMACKey + "\n")); !errors.Is(err, ErrBadKeyFile) {
		t.Fatalf("missing key: %v", err)
	}
	if _, err := ParseKeyFile(strings.NewReader("KEY secret\nHMAC_KEY secret\n")); !errors.Is(err, ErrBadKey) {
		t.Fatalf("equal keys: %v", err)
	}
}

func FuzzSPAKeyFile(f *testing.F) {
	f.Add("KEY_BASE64: " + vecKey + "\nHMAC_KEY_BASE64: " + vecHMACKey + "\n")
	f.Add("KEY abc\n")
	f.Add("KEY_BASE64 ====\n")
	f.Add("HMAC_KEY_BASE64: " + vecHMACKey + "\n")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKeyFile(strings.NewReader(s))
		if err == nil && k.Validate() != nil {
			t.Fatal("accepted invalid keys")
		}
		// With GPG: an HMAC key alone, of a length fwknop takes.
		k, err = parseKeyFile(strings.NewReader(s), true)
		if err == nil && (len(k.Enc) != 0 || len(k.HMAC) == 0 || len(k.HMAC) > MaxHMACKeyLen) {
			t.Fatalf("hmac only: enc %d hmac %d", len(k.Enc), len(k.HMAC))
		}
	})
}
