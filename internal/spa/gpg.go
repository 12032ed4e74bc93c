package spa

import (
	"bytes"
	"crypto"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// ErrGPG is wrapped by errors about GPG keys and keyrings.
var ErrGPG = errors.New("GPG")

// maxKeyring bounds a keyring read; exported keyrings of a few keys are
// far smaller.
const maxKeyring = 4 << 20

// GPGKeys are the OpenPGP keys of a GPG SPA packet (fwknop's USE_GPG):
// the packet is encrypted to Recipient, the server's key
// (GPG_RECIPIENT), and signed by Signer, the client's key (GPG_SIGNER),
// whose private key must be decrypted. A nil Signer sends an unsigned
// packet, which fwknopd accepts only with GPG_REQUIRE_SIG N.
type GPGKeys struct {
	Recipient *openpgp.Entity
	Signer    *openpgp.Entity
}

func (g *GPGKeys) validate() error {
	if g.Recipient == nil {
		return fmt.Errorf("%w: no recipient key (GPG_RECIPIENT)", ErrGPG)
	}
	if _, ok := g.Recipient.EncryptionKey(timeNow()); !ok {
		return fmt.Errorf("%w: recipient key %s cannot encrypt (expired, revoked or without an encryption subkey)", ErrGPG, keyID(g.Recipient))
	}
	if g.Signer != nil {
		k, ok := g.Signer.SigningKey(timeNow())
		if !ok || k.PrivateKey == nil {
			return fmt.Errorf("%w: signer key %s has no usable private signing key", ErrGPG, keyID(g.Signer))
		}
		if k.PrivateKey.Encrypted {
			return fmt.Errorf("%w: signer key %s is still locked by its passphrase", ErrGPG, keyID(g.Signer))
		}
	}
	return nil
}

// encrypt signs and encrypts plain into a binary OpenPGP message whose
// first packet, the encrypted session key, has an old-format header with a
// two-byte length, as gpg writes it for RSA keys: base64 of the message
// then starts with "hQ", the prefix fwknop drops on the wire and fwknopd
// restores.
func (g *GPGKeys) encrypt(plain []byte, r io.Reader) ([]byte, error) {
	cfg := &packet.Config{
		Rand:          r,
		DefaultHash:   crypto.SHA256,
		DefaultCipher: packet.CipherAES256,
	}
	var keyBuf, data bytes.Buffer
	w, err := openpgp.EncryptSplit(&keyBuf, &data, []*openpgp.Entity{g.Recipient}, g.Signer, &openpgp.FileHints{IsBinary: true}, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: encrypt: %v", ErrGPG, err)
	}
	if _, err := w.Write(plain); err != nil {
		return nil, fmt.Errorf("%w: encrypt: %v", ErrGPG, err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("%w: encrypt: %v", ErrGPG, err)
	}
	pkesk, err := oldFormat(keyBuf.Bytes())
	if err != nil {
		return nil, err
	}
	return append(pkesk, data.Bytes()...), nil
}

// oldFormat rewrites one packet with a new-format header (RFC 4880
// 4.2.2, definite length) into an old-format header with a two-byte
// length.
func oldFormat(p []byte) ([]byte, error) {
	if len(p) < 2 || p[0]&0xc0 != 0xc0 {
		return nil, fmt.Errorf("%w: unexpected packet header % x", ErrGPG, p[:min(len(p), 2)])
	}
	tag := p[0] & 0x3f
	var n, hdr int
	switch l := int(p[1]); {
	case l < 192:
		n, hdr = l, 2
	case l < 224 && len(p) >= 3:
		n, hdr = (l-192)<<8+int(p[2])+192, 3
	case l == 255 && len(p) >= 6:
		n, hdr = int(binary.BigEndian.Uint32(p[2:6])), 6
	default:
		return nil, fmt.Errorf("%w: unexpected packet length encoding", ErrGPG)
	}
	if tag > 15 || n > 0xffff || hdr+n != len(p) {
		return nil, fmt.Errorf("%w: session key packet of %d bytes does not fit an old-format header", ErrGPG, n)
	}
	out := []byte{0x80 | tag<<2 | 1, byte(n >> 8), byte(n)}
	return append(out, p[hdr:]...), nil
}

// GPGKeyring is a set of OpenPGP keys read from exported keyrings (gpg
// --export, --export-secret-keys; armored or binary).
type GPGKeyring struct {
	list openpgp.EntityList
}

// ReadGPGKeyring reads one or more exported keyrings, each armored or
// binary, for example the server's public key and the client's secret
// key.
func ReadGPGKeyring(rs ...io.Reader) (*GPGKeyring, error) {
	k := &GPGKeyring{}
	for i, r := range rs {
		data, err := io.ReadAll(io.LimitReader(r, maxKeyring+1))
		if err != nil {
			return nil, fmt.Errorf("%w: read keyring: %v", ErrGPG, err)
		}
		if len(data) > maxKeyring {
			return nil, fmt.Errorf("%w: keyring %d is larger than %d bytes", ErrGPG, i+1, maxKeyring)
		}
		var list openpgp.EntityList
		if bytes.Contains(data[:min(len(data), 1024)], []byte("-----BEGIN PGP")) {
			list, err = readArmored(data)
		} else {
			list, err = openpgp.ReadKeyRing(bytes.NewReader(data))
		}
		if err != nil {
			return nil, fmt.Errorf("%w: keyring %d: %v", ErrGPG, i+1, err)
		}
		k.list = append(k.list, list...)
	}
	if len(k.list) == 0 {
		return nil, fmt.Errorf("%w: no keys in the keyring", ErrGPG)
	}
	return k, nil
}

// readArmored reads every armored block in data (an exported file may
// hold a public and a private block).
func readArmored(data []byte) (openpgp.EntityList, error) {
	var out openpgp.EntityList
	marker := []byte("-----BEGIN PGP")
	for {
		i := bytes.Index(data, marker)
		if i < 0 {
			break
		}
		data = data[i:]
		next := bytes.Index(data[len(marker):], marker)
		block := data
		if next >= 0 {
			block, data = data[:len(marker)+next], data[len(marker)+next:]
		} else {
			data = nil
		}
		b, err := armor.Decode(bytes.NewReader(block))
		if err != nil {
			return nil, err
		}
		list, err := openpgp.ReadKeyRing(b.Body)
		if err != nil {
			return nil, err
		}
		out = append(out, list...)
	}
	return out, nil
}

// Find returns the key that id names as gpg would: a key ID of 8 or 16
// hex digits or a fingerprint of 40 (optionally with "0x"), matching the
// primary key or a subkey; else a part of a user ID (name or e-mail
// address), ignoring case. Keys with a private part come first, so that a
// signer is found in a keyring that also holds its public key.
func (k *GPGKeyring) Find(id string) (*openpgp.Entity, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return nil, fmt.Errorf("%w: empty key name", ErrGPG)
	}
	hexID := strings.ToUpper(strings.TrimPrefix(strings.TrimPrefix(id, "0x"), "0X"))
	isHex := false
	if n := len(hexID); n == 8 || n == 16 || n == 40 {
		_, err := hex.DecodeString(hexID)
		isHex = err == nil
	}
	var found []*openpgp.Entity
	for _, e := range k.list {
		if isHex && matchesHex(e, hexID) || !isHex && matchesUID(e, id) {
			found = append(found, e)
		}
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("%w: no key %q in the keyring", ErrGPG, id)
	}
	for _, e := range found {
		if e.PrivateKey != nil {
			return e, nil
		}
	}
	return found[0], nil
}

func matchesHex(e *openpgp.Entity, id string) bool {
	keys := []*packet.PublicKey{e.PrimaryKey}
	for _, s := range e.Subkeys {
		keys = append(keys, s.PublicKey)
	}
	for _, pk := range keys {
		if strings.HasSuffix(strings.ToUpper(hex.EncodeToString(pk.Fingerprint)), id) {
			return true
		}
	}
	return false
}

func matchesUID(e *openpgp.Entity, s string) bool {
	s = strings.ToLower(strings.Trim(s, "<>"))
	for name := range e.Identities {
		if strings.Contains(strings.ToLower(name), s) {
			return true
		}
	}
	return false
}

// HasPrivate reports whether the keyring holds a private key.
func (k *GPGKeyring) HasPrivate() bool {
	for _, e := range k.list {
		if e.PrivateKey != nil {
			return true
		}
	}
	return false
}

// Export returns a binary keyring with only what a GPG request needs,
// for a profile to keep: the recipient's public key, and the signer's key
// with its private part as it was exported (still locked by its
// passphrase, if it was). An empty signer exports the recipient alone.
func (k *GPGKeyring) Export(recipient, signer string) ([]byte, error) {
	r, err := k.Find(recipient)
	if err != nil {
		return nil, fmt.Errorf("recipient: %w", err)
	}
	var buf bytes.Buffer
	if err := r.Serialize(&buf); err != nil {
		return nil, fmt.Errorf("%w: export recipient %s: %v", ErrGPG, keyID(r), err)
	}
	if signer != "" {
		s, err := k.Find(signer)
		if err != nil {
			return nil, fmt.Errorf("signer: %w", err)
		}
		if s.PrivateKey == nil {
			return nil, fmt.Errorf("%w: signer %q: the keyring holds only its public key; export it with gpg --export-secret-keys", ErrGPG, signer)
		}
		for _, sub := range s.Subkeys {
			if sub.PrivateKey == nil {
				return nil, fmt.Errorf("%w: signer %q: a subkey lacks its private part; export the whole key with gpg --export-secret-keys", ErrGPG, signer)
			}
		}
		if err := s.SerializePrivateWithoutSigning(&buf, nil); err != nil {
			return nil, fmt.Errorf("%w: export signer %s: %v", ErrGPG, keyID(s), err)
		}
	}
	return buf.Bytes(), nil
}

// KeyIDs returns the long key IDs of the keys a request would use, for
// messages: the recipient's and the signer's ("" when unsigned).
func (g *GPGKeys) KeyIDs() (recipient, signer string) {
	if g.Recipient != nil {
		recipient = keyID(g.Recipient)
	}
	if g.Signer != nil {
		signer = keyID(g.Signer)
	}
	return recipient, signer
}

// Keys returns the GPG keys of a packet: the recipient's (public) key and
// the signer's private key, decrypted with passphrase when it is locked.
// An empty signer sends an unsigned packet.
func (k *GPGKeyring) Keys(recipient, signer string, passphrase []byte) (*GPGKeys, error) {
	r, err := k.Find(recipient)
	if err != nil {
		return nil, fmt.Errorf("recipient: %w", err)
	}
	g := &GPGKeys{Recipient: r}
	if signer != "" {
		s, err := k.Find(signer)
		if err != nil {
			return nil, fmt.Errorf("signer: %w", err)
		}
		if s.PrivateKey == nil {
			return nil, fmt.Errorf("%w: signer %q: the keyring holds only its public key; export it with gpg --export-secret-keys", ErrGPG, signer)
		}
		// Unlock a copy: the keyring keeps its keys as read, so that a
		// later Keys checks its own passphrase and Export never writes
		// an unlocked key.
		s = clonePrivate(s)
		if err := unlock(s, passphrase); err != nil {
			return nil, fmt.Errorf("%w: signer %q: %v", ErrGPG, signer, err)
		}
		g.Signer = s
	}
	return g, g.validate()
}

// clonePrivate returns a copy of an entity whose private keys can be
// decrypted without touching e's (decryption sets fields of the key
// structs, which the copy does not share).
func clonePrivate(e *openpgp.Entity) *openpgp.Entity {
	c := *e
	if e.PrivateKey != nil {
		pk := *e.PrivateKey
		c.PrivateKey = &pk
	}
	c.Subkeys = make([]openpgp.Subkey, len(e.Subkeys))
	for i, s := range e.Subkeys {
		if s.PrivateKey != nil {
			pk := *s.PrivateKey
			s.PrivateKey = &pk
		}
		c.Subkeys[i] = s
	}
	return &c
}

// unlock decrypts the entity's private keys that are locked.
func unlock(e *openpgp.Entity, passphrase []byte) error {
	keys := []*packet.PrivateKey{e.PrivateKey}
	for _, s := range e.Subkeys {
		if s.PrivateKey != nil {
			keys = append(keys, s.PrivateKey)
		}
	}
	for _, pk := range keys {
		if !pk.Encrypted {
			continue
		}
		if len(passphrase) == 0 {
			return errors.New("the private key is locked and no passphrase was given (GPG_SIGNING_PW)")
		}
		if err := pk.Decrypt(passphrase); err != nil {
			return errors.New("wrong passphrase")
		}
	}
	return nil
}

// keyID is the long key ID of an entity, for messages.
func keyID(e *openpgp.Entity) string {
	return strings.ToUpper(fmt.Sprintf("%016x", e.PrimaryKey.KeyId))
}

// timeNow is the clock of key validity checks: OpenPGP signatures carry
// the real time, not the SPA timestamp with its offset.
var timeNow = time.Now
