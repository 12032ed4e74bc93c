package spa

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

var (
	gpgOnce             sync.Once
	gpgServer, gpgUser  *openpgp.Entity
	gpgServerErr, gpgEr error
)

// testGPGEntities returns two RSA-2048 key pairs, made once per run: the
// server's and the client's.
func testGPGEntities(t testing.TB) (server, client *openpgp.Entity) {
	t.Helper()
	gpgOnce.Do(func() {
		cfg := &packet.Config{Algorithm: packet.PubKeyAlgoRSA, RSABits: 2048}
		gpgServer, gpgServerErr = openpgp.NewEntity("fwknopd test", "", "server@example.org", cfg)
		gpgUser, gpgEr = openpgp.NewEntity("knock test", "", "client@example.org", cfg)
	})
	if gpgServerErr != nil || gpgEr != nil {
		t.Fatal(gpgServerErr, gpgEr)
	}
	return gpgServer, gpgUser
}

func exportKey(t testing.TB, e *openpgp.Entity, private, armored bool, passphrase []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.Writer = &buf
	var aw io.WriteCloser
	if armored {
		typ := "PGP PUBLIC KEY BLOCK"
		if private {
			typ = "PGP PRIVATE KEY BLOCK"
		}
		var err error
		if aw, err = armor.Encode(&buf, typ, nil); err != nil {
			t.Fatal(err)
		}
		w = aw
	}
	if private {
		// Serialize a copy, so that encrypting it leaves e unlocked.
		c := *e
		if passphrase != nil {
			var copyBuf bytes.Buffer
			if err := e.SerializePrivate(&copyBuf, nil); err != nil {
				t.Fatal(err)
			}
			el, err := openpgp.ReadKeyRing(&copyBuf)
			if err != nil {
				t.Fatal(err)
			}
			c = *el[0]
			if err := c.EncryptPrivateKeys(passphrase, nil); err != nil {
				t.Fatal(err)
			}
			if err := c.SerializePrivateWithoutSigning(w, nil); err != nil {
				t.Fatal(err)
			}
		} else if err := c.SerializePrivate(w, nil); err != nil {
			t.Fatal(err)
		}
	} else if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	if aw != nil {
		aw.Close()
	}
	return buf.Bytes()
}

func TestSPAGPGRoundTrip(t *testing.T) {
	server, client := testGPGEntities(t)
	pass := []byte("signing passphrase")
	ring, err := ReadGPGKeyring(
		bytes.NewReader(exportKey(t, server, false, true, nil)),
		bytes.NewReader(exportKey(t, client, true, false, pass)))
	if err != nil {
		t.Fatal(err)
	}
	serverID := fmt.Sprintf("%08X", uint32(server.PrimaryKey.KeyId))
	if _, err := ring.Keys(serverID, "client@example.org", []byte("wrong")); err == nil || !strings.Contains(err.Error(), "wrong passphrase") {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if _, err := ring.Keys(serverID, "client@example.org", nil); err == nil || !strings.Contains(err.Error(), "GPG_SIGNING_PW") {
		t.Fatalf("no passphrase: %v", err)
	}
	g, err := ring.Keys(serverID, "Knock Test", pass)
	if err != nil {
		t.Fatal(err)
	}
	hmacKey := []byte("an HMAC key of some length")
	keys := Keys{GPG: g, HMAC: hmacKey, HMACDigest: DigestSHA512}
	req := Request{User: "alice", Access: []Access{{"tcp", 22}}, ClientTimeout: 30}
	p, err := new(Encoder).EncodePacket(req, keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Wire) < GPGWireLen || len(p.Wire) > MaxWireLen || strings.HasPrefix(p.Wire, gpgPrefix) {
		t.Fatalf("GPG wire of %d characters starting %q", len(p.Wire), p.Wire[:4])
	}
	// What fwknopd does: split off the HMAC (86 characters for SHA-512),
	// put back "hQ", check the HMAC over that, then decrypt and verify.
	body, tag := p.Wire[:len(p.Wire)-86], p.Wire[len(p.Wire)-86:]
	full := "hQ" + body
	if got := base64.RawStdEncoding.EncodeToString(DigestSHA512.hmacSum(hmacKey, full)); got != tag {
		t.Fatal("HMAC is not over the message with its hQ prefix")
	}
	blob, err := base64.RawStdEncoding.DecodeString(full)
	if err != nil {
		t.Fatal(err)
	}
	if blob[0] != 0x85 {
		t.Fatalf("first packet header %#x, want an old-format session key packet (0x85)", blob[0])
	}
	md, err := openpgp.ReadMessage(bytes.NewReader(blob), openpgp.EntityList{server, client}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(md.UnverifiedBody)
	if err != nil {
		t.Fatal(err)
	}
	if !md.IsSigned || md.SignatureError != nil || md.SignedBy == nil || md.SignedBy.PublicKey.KeyId != client.PrimaryKey.KeyId {
		t.Fatalf("signature: signed %v by %v, error %v", md.IsSigned, md.SignedBy, md.SignatureError)
	}
	f := strings.Split(string(plain), ":")
	if len(f) != 8 || f[4] != "3" || f[6] != "30" {
		t.Fatalf("plaintext fields %q", f)
	}
	if u, _ := base64.RawStdEncoding.DecodeString(f[1]); string(u) != "alice" {
		t.Fatalf("user %q", u)
	}

	// Unsigned, without HMAC.
	g2, err := ring.Keys(serverID, "", nil)
	if err != nil || g2.Signer != nil {
		t.Fatal(err)
	}
	w, err := new(Encoder).Encode(req, Keys{GPG: g2})
	if err != nil {
		t.Fatal(err)
	}
	blob, _ = base64.RawStdEncoding.DecodeString("hQ" + w)
	md, err = openpgp.ReadMessage(bytes.NewReader(blob), openpgp.EntityList{server}, nil, nil)
	if err != nil || md.IsSigned {
		t.Fatalf("unsigned message: %v signed %v", err, md != nil && md.IsSigned)
	}
}

func TestSPAGPGKeyring(t *testing.T) {
	server, client := testGPGEntities(t)
	bin := append(exportKey(t, server, false, false, nil), exportKey(t, client, true, false, nil)...)
	armored := append(exportKey(t, server, false, true, nil), exportKey(t, client, true, true, nil)...)
	for name, data := range map[string][]byte{"binary": bin, "armored": armored} {
		ring, err := ReadGPGKeyring(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		fpr := fmt.Sprintf("%X", server.PrimaryKey.Fingerprint)
		for _, id := range []string{fpr, "0x" + fpr[24:], fpr[32:], strings.ToLower(fpr[32:]), "server@EXAMPLE.org", "<server@example.org>"} {
			e, err := ring.Find(id)
			if err != nil || e.PrimaryKey.KeyId != server.PrimaryKey.KeyId {
				t.Errorf("%s: Find(%q) = %v", name, id, err)
			}
		}
		if _, err := ring.Find("nobody@example.org"); !errors.Is(err, ErrGPG) {
			t.Errorf("%s: unknown key: %v", name, err)
		}
		if _, err := ring.Keys("client@example.org", "server@example.org", nil); err == nil || !strings.Contains(err.Error(), "only its public key") {
			t.Errorf("%s: public signer: %v", name, err)
		}
	}
	if _, err := ReadGPGKeyring(strings.NewReader("not a keyring")); !errors.Is(err, ErrGPG) {
		t.Fatalf("garbage: %v", err)
	}
}

func TestSPAGPGOldFormat(t *testing.T) {
	for _, n := range []int{10, 191, 192, 300, 8383, 9000} {
		body := bytes.Repeat([]byte{7}, n)
		var hdr []byte
		switch {
		case n < 192:
			hdr = []byte{0xc1, byte(n)}
		case n < 8384:
			hdr = []byte{0xc1, byte((n-192)>>8) + 192, byte(n - 192)}
		default:
			hdr = []byte{0xc1, 255, 0, 0, byte(n >> 8), byte(n)}
		}
		out, err := oldFormat(append(hdr, body...))
		if err != nil {
			t.Fatalf("%d: %v", n, err)
		}
		if out[0] != 0x85 || int(out[1])<<8|int(out[2]) != n || !bytes.Equal(out[3:], body) {
			t.Fatalf("%d: header % x", n, out[:3])
		}
	}
	if _, err := oldFormat([]byte{0x85, 0, 1, 0}); err == nil {
		t.Fatal("an old-format packet taken for new format")
	}
}
