package spa

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

// decoded is what testDecode recovers from a wire string.
type decoded struct {
	Rand    string
	User    string
	Time    int64
	Version string
	Type    int
	Message string
	NAT     string
	Timeout int
}

// testDecode does what fwknopd does with a Rijndael+HMAC packet: check the
// HMAC, restore the prefix, decrypt, unpad, check the digest, split the
// fields. It is written for the tests, from the format in fwknop-spa.md.
func testDecode(wire string, keys Keys) (*decoded, error) {
	if len(wire) < MinWireLen || len(wire) >= GPGWireLen {
		return nil, fmt.Errorf("length %d", len(wire))
	}
	if strings.HasPrefix(wire, b64Prefix) {
		return nil, errors.New("starts with the salted prefix")
	}
	if len(keys.HMAC) > 0 {
		if len(wire) < 43 {
			return nil, errors.New("too short for an HMAC")
		}
		body, tag := wire[:len(wire)-43], wire[len(wire)-43:]
		want := b64.EncodeToString(mac(keys.HMAC, b64Prefix+body))
		if !hmac.Equal([]byte(tag), []byte(want)) {
			return nil, errors.New("hmac mismatch")
		}
		wire = body
	}
	blob, err := b64.DecodeString(b64Prefix + wire)
	if err != nil {
		return nil, fmt.Errorf("base64: %w", err)
	}
	if len(blob) < 32 || !bytes.HasPrefix(blob, []byte(saltedMagic)) || (len(blob)-16)%aes.BlockSize != 0 {
		return nil, errors.New("bad blob")
	}
	key, iv := deriveKeyIV(keys.Enc, blob[8:16])
	block, _ := aes.NewCipher(key)
	buf := append([]byte(nil), blob[16:]...)
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(buf, buf)
	pad := int(buf[len(buf)-1])
	if pad < 1 || pad > aes.BlockSize {
		return nil, errors.New("bad padding")
	}
	for _, c := range buf[len(buf)-pad:] {
		if int(c) != pad {
			return nil, errors.New("bad padding")
		}
	}
	plain := string(buf[:len(buf)-pad])
	i := strings.LastIndexByte(plain, ':')
	if i < 0 {
		return nil, errors.New("no digest")
	}
	sum := sha256.Sum256([]byte(plain[:i]))
	if plain[i+1:] != b64.EncodeToString(sum[:]) {
		return nil, errors.New("digest mismatch")
	}
	f := strings.Split(plain[:i], ":")
	if len(f) < 6 {
		return nil, errors.New("too few fields")
	}
	d := &decoded{Rand: f[0], Version: f[3]}
	if len(d.Rand) != 16 {
		return nil, errors.New("bad rand")
	}
	u, err := b64.DecodeString(f[1])
	if err != nil {
		return nil, errors.New("bad user")
	}
	d.User = string(u)
	if d.Time, err = strconv.ParseInt(f[2], 10, 64); err != nil {
		return nil, errors.New("bad time")
	}
	if d.Type, err = strconv.Atoi(f[4]); err != nil {
		return nil, errors.New("bad type")
	}
	m, err := b64.DecodeString(f[5])
	if err != nil {
		return nil, errors.New("bad message")
	}
	d.Message = string(m)
	rest := f[6:]
	if d.Type == typeNATAccess || d.Type == typeNATClientTimeout {
		if len(rest) == 0 {
			return nil, errors.New("missing nat")
		}
		n, err := b64.DecodeString(rest[0])
		if err != nil {
			return nil, errors.New("bad nat")
		}
		d.NAT, rest = string(n), rest[1:]
	}
	if d.Type == typeClientTimeout || d.Type == typeNATClientTimeout {
		if len(rest) == 0 {
			return nil, errors.New("missing timeout")
		}
		if d.Timeout, err = strconv.Atoi(rest[0]); err != nil {
			return nil, errors.New("bad timeout")
		}
		rest = rest[1:]
	}
	if len(rest) != 0 {
		return nil, errors.New("extra fields")
	}
	return d, nil
}

func TestSPADecodeVector(t *testing.T) {
	keys, _ := ParseKeys(vecKey, vecHMACKey)
	d, err := testDecode(vecWire, keys)
	if err != nil {
		t.Fatal(err)
	}
	want := decoded{Rand: "8038796071394366", User: "root", Time: 1795635694, Version: "3.0.0", Type: 1, Message: "127.0.0.1,tcp/22"}
	if *d != want {
		t.Fatalf("got %+v want %+v", *d, want)
	}
}

func TestSPARoundTrip(t *testing.T) {
	keys, err := GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	nat, _ := ParseNAT("192.168.10.2,55000")
	now := time.Unix(1800000000, 0)
	tests := []struct {
		name string
		req  Request
		off  time.Duration
		want decoded
	}{
		{"source", Request{Access: []Access{{"tcp", 22}}},
			0, decoded{User: "knock", Type: 1, Message: "0.0.0.0,tcp/22"}},
		{"ports", Request{User: "alice", AllowIP: netip.MustParseAddr("198.51.100.1"), Access: []Access{{"tcp", 22}, {"udp", 53}, {"tcp", 443}}},
			0, decoded{User: "alice", Type: 1, Message: "198.51.100.1,tcp/22,udp/53,tcp/443"}},
		{"timeout", Request{Access: []Access{{"tcp", 22}}, ClientTimeout: 60},
			-90 * time.Second, decoded{User: "knock", Type: 3, Message: "0.0.0.0,tcp/22", Timeout: 60}},
		{"nat", Request{Access: []Access{{"tcp", 22}}, NAT: nat},
			0, decoded{User: "knock", Type: 2, Message: "0.0.0.0,tcp/22", NAT: "192.168.10.2,55000"}},
		{"nat timeout", Request{Access: []Access{{"tcp", 22}}, NAT: nat, ClientTimeout: 5},
			time.Hour, decoded{User: "knock", Type: 4, Message: "0.0.0.0,tcp/22", NAT: "192.168.10.2,55000", Timeout: 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &Encoder{Now: func() time.Time { return now }, TimeOffset: tt.off}
			w, err := e.Encode(tt.req, keys)
			if err != nil {
				t.Fatal(err)
			}
			d, err := testDecode(w, keys)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			tt.want.Rand, tt.want.Version, tt.want.Time = d.Rand, "3.0.0", now.Add(tt.off).Unix()
			if *d != tt.want {
				t.Fatalf("got %+v\nwant %+v", *d, tt.want)
			}
			other := keys
			other.HMAC = append([]byte{1}, keys.HMAC[1:]...)
			if _, err := testDecode(w, other); err == nil {
				t.Fatal("decoded with a wrong HMAC key")
			}
		})
	}
}

func TestSPANoHMAC(t *testing.T) {
	keys, _ := ParseKeys(vecKey, "")
	w, err := new(Encoder).Encode(vectorRequest(), keys)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := testDecode(w, keys); err != nil {
		t.Fatal(err)
	}
}

func FuzzSPADecode(f *testing.F) {
	f.Add(vecWire)
	f.Add(vecWire[:150])
	f.Add(strings.Repeat("A", 200))
	f.Add(b64Prefix + vecWire)
	keys, _ := ParseKeys(vecKey, vecHMACKey)
	noHMAC, _ := ParseKeys(vecKey, "")
	f.Fuzz(func(t *testing.T, wire string) {
		if d, err := testDecode(wire, keys); err == nil && d == nil {
			t.Fatal("nil result without error")
		}
		_, _ = testDecode(wire, noHMAC)
	})
}

// FuzzSPARoundTrip encodes arbitrary requests and decodes them again.
func FuzzSPARoundTrip(f *testing.F) {
	f.Add("tcp/22", "root", 0, int64(1795635694))
	f.Add("tcp/22,udp/53", "alice", 30, int64(0))
	f.Add("udp/1", "x", 1<<30, int64(-5))
	keys, _ := ParseKeys(vecKey, vecHMACKey)
	f.Fuzz(func(t *testing.T, access, user string, timeout int, ts int64) {
		acc, err := ParseAccess(access)
		if err != nil {
			return
		}
		req := Request{User: user, Access: acc, ClientTimeout: timeout}
		e := &Encoder{Now: func() time.Time { return time.Unix(ts, 0) }}
		w, err := e.Encode(req, keys)
		if err != nil {
			return
		}
		d, err := testDecode(w, keys)
		if err != nil {
			t.Fatalf("decode %q: %v", w, err)
		}
		if d.Time != ts || d.Message != req.accessMessage() || (user != "" && d.User != user) {
			t.Fatalf("round trip: %+v from %+v", d, req)
		}
	})
}
