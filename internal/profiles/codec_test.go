package profiles

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func sample() *Profile {
	return &Profile{Name: "srv", Host: "198.51.100.2", Open: "7000:tcp,8000:udp", Close: "8000:udp,7000:tcp",
		TCPFlags: "syn", DelayMS: 100, Method: "connect", Family: "inet", WaitPort: 22, SeqTimeout: 5, Notes: "n"}
}

func TestProfileEncodeDecode(t *testing.T) {
	ps := []*Profile{
		sample(),
		{Name: "spa", Kind: KindSPA, SPA: &SPAConfig{KeyBase64: "a2V5", HMACKeyBase64: "aG1hYw==", Access: []string{"tcp/22"}, ServerPort: 62201, UseHMAC: true}},
		{Name: "otp", Kind: KindOTP, OTP: &OTPConfig{Secret: []byte{1, 2, 3}, Counter: 7, Length: 3, PortLo: 1000, PortHi: 2000, Proto: "tcp"}},
	}
	for _, p := range ps {
		b, err := Encode(p)
		if err != nil {
			t.Fatal(err)
		}
		q, err := Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if !reflect.DeepEqual(p, q) {
			t.Errorf("round trip: %+v != %+v", p, q)
		}
	}
}

func TestProfileDecodeErrors(t *testing.T) {
	good, _ := Encode(sample())
	cases := map[string]string{
		"empty":     "",
		"garbage":   "\x00\xff",
		"truncated": string(good[:len(good)-3]),
		"trailing":  string(good) + "{}",
		"unknown":   strings.Replace(string(good), `"name"`, `"nme"`, 1),
		"format":    `{"format":"other","v":1,"profile":{"name":"a","open":"1"}}`,
		"newer":     `{"format":"knock-profile","v":2,"profile":{"name":"a","open":"1"}}`,
		"noprofile": `{"format":"knock-profile","v":1}`,
		"invalid":   `{"format":"knock-profile","v":1,"profile":{"name":"a","open":"99999"}}`,
		"kind":      `{"format":"knock-profile","v":1,"profile":{"name":"a","kind":"magic","open":"1"}}`,
		"type":      `{"format":"knock-profile","v":1,"profile":{"name":"a","open":7}}`,
	}
	for name, in := range cases {
		_, err := Decode([]byte(in))
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err %v, want ErrCorrupt", name, err)
		}
	}
	// A corrupt record never echoes the sequence in the error.
	_, err := Decode([]byte(`{"format":"knock-profile","v":1,"profile":{"name":"a","open":"31337,99999"}}`))
	if err == nil || strings.Contains(err.Error(), "31337") {
		t.Errorf("error leaks the sequence: %v", err)
	}
}

func TestProfileValidName(t *testing.T) {
	for _, n := range []string{"a", "my-server", "web.example.com", "user@host", "x_1", "1srv"} {
		if err := ValidName(n); err != nil {
			t.Errorf("%q: %v", n, err)
		}
	}
	for _, n := range []string{"", "-a", "a b", "a/b", "7000", "7000,8000", strings.Repeat("a", 65), "é"} {
		if ValidName(n) == nil {
			t.Errorf("%q accepted", n)
		}
	}
}

func TestProfileNormalize(t *testing.T) {
	p := &Profile{Name: "a", Kind: KindSequence, Open: "7000, 8000:UDP", TCPFlags: "!ack,FIN"}
	if err := p.Normalize(); err != nil {
		t.Fatal(err)
	}
	if p.Open != "7000:tcp,8000:udp" || p.TCPFlags != "fin,!ack" || p.Kind != "" {
		t.Errorf("%+v", p)
	}
	for _, bad := range []*Profile{
		{Name: "a"},
		{Name: "a", Open: "1", Host: "a b"},
		{Name: "a", Open: "1", Method: "magic"},
		{Name: "a", Open: "1", Family: "ipx"},
		{Name: "a", Open: "1", DelayMS: -1},
		{Name: "a", Open: "1", Notes: strings.Repeat("x", MaxNotesLen+1)},
		{Name: "a", Kind: KindSPA},
	} {
		if err := bad.Normalize(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}

// FuzzDecode: no input makes the decoder panic, and whatever it accepts
// is valid and survives a round trip.
func FuzzProfileDecode(f *testing.F) {
	good, _ := Encode(sample())
	f.Add(good)
	f.Add([]byte(`{"format":"knock-profile","v":1,"profile":{"name":"a","kind":"spa","spa":{"access":["tcp/22"]}}}`))
	f.Add([]byte(`{"format":"knock-profile","v":1,"profile":{"name":"a","kind":"otp","otp":{"secret":"AQID"}}}`))
	f.Add([]byte(`{"format":"knock-profile","v":1,"profile":null}`))
	f.Add([]byte(`{"format":"knock-profiles","v":1,"profiles":[{"name":"a","open":"1"}]}`))
	f.Add([]byte("\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("accepted an invalid profile: %v", err)
		}
		b2, err := Encode(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Decode(b2); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if ps, err := DecodeList(b); err == nil {
			_, _ = EncodeList(ps)
		}
	})
}

// FuzzDecodeList covers the file store and export format.
func FuzzProfileDecodeList(f *testing.F) {
	b, _ := EncodeList([]*Profile{sample(), {Name: "b", Open: "1"}})
	f.Add(b)
	f.Add([]byte(`{"format":"knock-profiles","v":1,"profiles":[null]}`))
	f.Add([]byte(`{"format":"knock-profiles","v":1,"profiles":[{"name":"a","open":"1"},{"name":"a","open":"2"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ps, err := DecodeList(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if _, err := EncodeList(ps); err != nil {
			t.Fatalf("accepted list does not encode: %v", err)
		}
	})
}
