package spa

import (
	"bufio"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
)

// Key sizes fwknop accepts and generates.
const (
	MaxKeyLen      = 32  // Rijndael key (passphrase) bytes
	MaxHMACKeyLen  = 128 // HMAC key bytes
	GenKeyLen      = 32  // bytes of a generated Rijndael key (44 base64 characters)
	GenHMACKeyLen  = 64  // bytes of a generated HMAC key (88 base64 characters)
	keyB64Name     = "KEY_BASE64"
	hmacKeyB64Name = "HMAC_KEY_BASE64"
)

// Keys are the secrets shared with fwknopd's access.conf stanza, and how
// they are used.
type Keys struct {
	// Enc is the Rijndael key: the decoded KEY_BASE64, or KEY's bytes.
	// Unused (and may be empty) with GPG.
	Enc []byte
	// HMAC is the decoded HMAC_KEY_BASE64 (or HMAC_KEY's bytes); empty
	// sends a packet without HMAC. As in fwknop's client, a packet
	// carries an HMAC whenever there is a key, whatever USE_HMAC says.
	HMAC []byte
	// HMACDigest is the HMAC's hash (HMAC_DIGEST_TYPE); zero is SHA-256.
	HMACDigest Digest
	// Mode is the Rijndael mode (ENCRYPTION_MODE); zero is CBC.
	Mode Mode
	// GPG, when set, encrypts to the server's key and signs with the
	// client's instead of Rijndael (USE_GPG).
	GPG *GPGKeys
}

// Mode is fwknop's Rijndael encryption mode (ENCRYPTION_MODE, -M).
type Mode int

// The Rijndael modes knock sends.
const (
	// ModeCBC is AES-256-CBC keyed through OpenSSL's EVP_BytesToKey,
	// fwknop's default.
	ModeCBC Mode = iota
	// ModeLegacy is fwknop's "legacy" IV mode for servers before 2.5:
	// the key is cut to 16 bytes or padded to 16 with '0' characters
	// before the same derivation. fwknop refuses it with an HMAC.
	ModeLegacy
)

// ParseMode parses an ENCRYPTION_MODE value, ignoring case: "cbc" (also
// empty) or "legacy".
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "cbc":
		return ModeCBC, nil
	case "legacy":
		return ModeLegacy, nil
	case "asymmetric":
		return 0, fmt.Errorf("%w %q: asymmetric mode means GPG; set a GPG recipient instead", ErrBadMode, s)
	case "ecb", "cfb", "pcbc", "ofb", "ctr":
		return 0, fmt.Errorf("%w %q: only cbc and legacy are supported", ErrBadMode, s)
	}
	return 0, fmt.Errorf("%w %q (want cbc or legacy)", ErrBadMode, s)
}

// String returns the ENCRYPTION_MODE name.
func (m Mode) String() string {
	if m == ModeLegacy {
		return "legacy"
	}
	return "cbc"
}

// legacyKey is the key as legacy mode uses it: at most 16 bytes, padded
// to 16 with '0'.
func legacyKey(k []byte) []byte {
	out := make([]byte, 16)
	n := copy(out, k)
	for i := n; i < 16; i++ {
		out[i] = '0'
	}
	return out
}

// ParseKeys decodes KEY_BASE64 and HMAC_KEY_BASE64 values (padded or not)
// and validates them. An empty hmacB64 means no HMAC.
func ParseKeys(keyB64, hmacB64 string) (Keys, error) {
	var k Keys
	var err error
	if k.Enc, err = decodeKey(keyB64Name, keyB64); err != nil {
		return Keys{}, err
	}
	if strings.TrimSpace(hmacB64) != "" {
		if k.HMAC, err = decodeKey(hmacKeyB64Name, hmacB64); err != nil {
			return Keys{}, err
		}
	}
	return k, k.Validate()
}

// DecodeKey decodes one base64 key value; name is used in the error.
func DecodeKey(name, value string) ([]byte, error) { return decodeKey(name, value) }

func decodeKey(name, value string) ([]byte, error) {
	v := strings.TrimRight(strings.TrimSpace(value), "=")
	if v == "" {
		return nil, fmt.Errorf("%w: %s is empty", ErrBadKey, name)
	}
	b, err := base64.RawStdEncoding.Strict().DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not valid base64 (standard alphabet, as fwknop --key-gen prints)", ErrBadKey, name)
	}
	return b, nil
}

// Validate checks key lengths and that the HMAC key differs from the
// encryption key, as fwknop requires.
func (k Keys) Validate() error { return k.ValidateAs(keyB64Name, hmacKeyB64Name) }

// validateUse checks what Validate does not: digest, mode and GPG.
func (k Keys) validateUse() error {
	if !k.HMACDigest.valid() {
		return fmt.Errorf("%w %d", ErrBadDigest, int(k.HMACDigest))
	}
	if k.Mode != ModeCBC && k.Mode != ModeLegacy {
		return fmt.Errorf("%w %d", ErrBadMode, int(k.Mode))
	}
	if k.Mode == ModeLegacy && len(k.HMAC) > 0 {
		return fmt.Errorf("%w: legacy encryption mode cannot be used with an HMAC key (fwknop refuses it too)", ErrBadMode)
	}
	if k.GPG != nil {
		if k.Mode == ModeLegacy {
			return fmt.Errorf("%w: legacy mode is for Rijndael keys, not GPG", ErrBadMode)
		}
		return k.GPG.validate()
	}
	return nil
}

// ValidateAs is [Keys.Validate] with errors that name the keys as the
// caller read them: KEY_BASE64 or KEY, HMAC_KEY_BASE64 or HMAC_KEY.
func (k Keys) ValidateAs(keyName, hmacName string) error {
	size := func(name string, n int) string {
		if strings.HasSuffix(name, "_BASE64") {
			return fmt.Sprintf("%s decodes to %d bytes", name, n)
		}
		return fmt.Sprintf("%s is %d bytes long", name, n)
	}
	if len(k.Enc) == 0 && k.GPG == nil {
		return fmt.Errorf("%w: %s (or KEY) is missing", ErrBadKey, keyB64Name)
	}
	if len(k.Enc) > MaxKeyLen {
		return fmt.Errorf("%w: %s, fwknop allows 1..%d", ErrBadKey, size(keyName, len(k.Enc)), MaxKeyLen)
	}
	if len(k.HMAC) > MaxHMACKeyLen {
		return fmt.Errorf("%w: %s, fwknop allows 1..%d", ErrBadKey, size(hmacName, len(k.HMAC)), MaxHMACKeyLen)
	}
	if len(k.HMAC) > 0 && len(k.Enc) > 0 && subtle.ConstantTimeCompare(k.Enc, k.HMAC) == 1 {
		return fmt.Errorf("%w: %s equals %s; the HMAC key must differ from the encryption key", ErrBadKey, hmacName, keyName)
	}
	return nil
}

// Base64 returns the keys as KEY_BASE64 and HMAC_KEY_BASE64 values
// (padded, as fwknop prints them); hmac is empty without an HMAC key.
func (k Keys) Base64() (key, hmac string) {
	key = base64.StdEncoding.EncodeToString(k.Enc)
	if len(k.HMAC) > 0 {
		hmac = base64.StdEncoding.EncodeToString(k.HMAC)
	}
	return key, hmac
}

// GenerateKeys returns a fresh random key pair of fwknop --key-gen's sizes.
func GenerateKeys() (Keys, error) { return generateKeys(rand.Reader) }

func generateKeys(r io.Reader) (Keys, error) {
	k := Keys{Enc: make([]byte, GenKeyLen), HMAC: make([]byte, GenHMACKeyLen)}
	if _, err := io.ReadFull(r, k.Enc); err != nil {
		return Keys{}, fmt.Errorf("generate key: %w", err)
	}
	if _, err := io.ReadFull(r, k.HMAC); err != nil {
		return Keys{}, fmt.Errorf("generate key: %w", err)
	}
	return k, nil
}

// FormatKeyGen writes the keys as fwknop --key-gen prints them:
//
//	KEY_BASE64: ...
//	HMAC_KEY_BASE64: ...
func FormatKeyGen(k Keys) string {
	key, hmac := k.Base64()
	var b strings.Builder
	b.WriteString(keyB64Name + ": " + key + "\n")
	if hmac != "" {
		b.WriteString(hmacKeyB64Name + ": " + hmac + "\n")
	}
	return b.String()
}

// ParseKeyFile reads keys in the form FormatKeyGen writes (and fwknoprc's
// "NAME VALUE" lines): KEY_BASE64 or KEY, and optionally HMAC_KEY_BASE64
// or HMAC_KEY. Other names, comments and blank lines are ignored. Errors
// name the line, never its value.
func ParseKeyFile(r io.Reader) (Keys, error) { return parseKeyFile(r, false) }

// parseKeyFile is ParseKeyFile; with hmacOnly (a GPG request) it takes
// only the HMAC key, and a file without KEY_BASE64 or KEY is fine.
func parseKeyFile(r io.Reader, hmacOnly bool) (Keys, error) {
	var keyB64, hmacB64 string
	var key, hmacKey []byte
	sc := bufio.NewScanner(io.LimitReader(r, 64<<10))
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' || s[0] == ';' {
			continue
		}
		name, value, ok := strings.Cut(strings.ReplaceAll(s, "\t", " "), " ")
		if !ok {
			return Keys{}, fmt.Errorf("%w: line %d: want NAME VALUE", ErrBadKeyFile, line)
		}
		name = strings.ToUpper(strings.TrimSuffix(name, ":"))
		value = strings.TrimSpace(value)
		switch name {
		case keyB64Name:
			keyB64 = value
		case hmacKeyB64Name:
			hmacB64 = value
		case "KEY":
			key = []byte(value)
		case "HMAC_KEY":
			hmacKey = []byte(value)
		}
	}
	if err := sc.Err(); err != nil {
		return Keys{}, fmt.Errorf("%w: %v", ErrBadKeyFile, err)
	}
	var k Keys
	var err error
	switch {
	case hmacOnly:
	case keyB64 != "":
		if k.Enc, err = decodeKey(keyB64Name, keyB64); err != nil {
			return Keys{}, err
		}
	case key != nil:
		k.Enc = key
	default:
		return Keys{}, fmt.Errorf("%w: no %s or KEY line", ErrBadKeyFile, keyB64Name)
	}
	switch {
	case hmacB64 != "":
		if k.HMAC, err = decodeKey(hmacKeyB64Name, hmacB64); err != nil {
			return Keys{}, err
		}
	case hmacKey != nil:
		k.HMAC = hmacKey
	}
	if hmacOnly {
		if len(k.HMAC) == 0 {
			return Keys{}, fmt.Errorf("%w: no %s or HMAC_KEY line", ErrBadKeyFile, hmacKeyB64Name)
		}
		if len(k.HMAC) > MaxHMACKeyLen {
			return Keys{}, fmt.Errorf("%w: %s decodes to %d bytes, fwknop allows 1..%d", ErrBadKey, hmacKeyB64Name, len(k.HMAC), MaxHMACKeyLen)
		}
		return k, nil
	}
	return k, k.Validate()
}
