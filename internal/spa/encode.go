package spa

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Protocol constants of the wire format.
const (
	protoVersion = "3.0.0"
	saltedMagic  = "Salted__"
	// b64Prefix is base64("Salted__"...): dropped on the wire, restored by
	// the server before it checks the HMAC.
	b64Prefix = "U2FsdGVkX1"
	defUser   = "knock"
)

var b64 = base64.RawStdEncoding

// Encoder builds SPA packets. The zero value is ready to use; its fields
// are hooks for tests and clock skew.
type Encoder struct {
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// TimeOffset is added to Now for the packet's timestamp (fwknop's
	// TIME_OFFSET), for a server whose clock differs from ours.
	TimeOffset time.Duration
	// Rand is the entropy source of the salt and the random field; nil
	// means crypto/rand.
	Rand io.Reader

	// fixedRand and fixedSalt replace the random values, for test vectors.
	fixedRand string
	fixedSalt []byte
}

// Encode returns the wire string of a fresh SPA packet for req: a new salt
// and random field every call. It fails when the request or keys are
// invalid, or when the packet would reach [GPGWireLen] characters.
func (e *Encoder) Encode(req Request, keys Keys) (string, error) {
	if err := req.Validate(); err != nil {
		return "", err
	}
	if err := keys.Validate(); err != nil {
		return "", err
	}
	rnd, salt, err := e.entropy()
	if err != nil {
		return "", err
	}
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	ts := now().Add(e.TimeOffset).Unix()
	plain := plaintext(req, rnd, ts)
	blob, err := encrypt(keys.Enc, salt, []byte(plain))
	if err != nil {
		return "", err
	}
	full := b64.EncodeToString(blob)
	wire := full[len(b64Prefix):]
	if len(keys.HMAC) > 0 {
		wire += b64.EncodeToString(mac(keys.HMAC, full))
	}
	if len(wire) >= GPGWireLen {
		return "", fmt.Errorf("%w: the packet would be %d characters and fwknopd takes %d or more for GPG; ask for fewer ports", ErrTooLong, len(wire), GPGWireLen)
	}
	return wire, nil
}

// entropy returns the 16-digit random field and the 8-byte salt.
func (e *Encoder) entropy() (string, []byte, error) {
	if e.fixedRand != "" {
		return e.fixedRand, e.fixedSalt, nil
	}
	r := e.Rand
	if r == nil {
		r = rand.Reader
	}
	var buf [16]byte
	if _, err := io.ReadFull(r, buf[:]); err != nil {
		return "", nil, fmt.Errorf("read random bytes: %w", err)
	}
	// 16 decimal digits, the first non-zero.
	n := binary.BigEndian.Uint64(buf[:8])%9_000_000_000_000_000 + 1_000_000_000_000_000
	return strconv.FormatUint(n, 10), buf[8:], nil
}

// fields returns RAND:USER:TS:VERSION:TYPE:MSG[:NAT][:TIMEOUT].
func fields(req Request, rnd string, ts int64) string {
	user := req.User
	if user == "" {
		user = defUser
	}
	f := []string{
		rnd,
		b64.EncodeToString([]byte(user)),
		strconv.FormatInt(ts, 10),
		protoVersion,
		strconv.Itoa(req.msgType()),
		b64.EncodeToString([]byte(req.accessMessage())),
	}
	if req.NAT != nil {
		f = append(f, b64.EncodeToString([]byte(req.NAT.String())))
	}
	if req.ClientTimeout > 0 {
		f = append(f, strconv.Itoa(req.ClientTimeout))
	}
	return strings.Join(f, ":")
}

// plaintext appends the SHA-256 digest of the fields.
func plaintext(req Request, rnd string, ts int64) string {
	f := fields(req, rnd, ts)
	sum := sha256.Sum256([]byte(f))
	return f + ":" + b64.EncodeToString(sum[:])
}

// deriveKeyIV is OpenSSL's EVP_BytesToKey with MD5 and one iteration:
// 32 key bytes and a 16-byte IV from pass and salt.
func deriveKeyIV(pass, salt []byte) (key, iv []byte) {
	var out, prev []byte
	for len(out) < 48 {
		h := md5.New()
		h.Write(prev)
		h.Write(pass)
		h.Write(salt)
		prev = h.Sum(nil)
		out = append(out, prev...)
	}
	return out[:32], out[32:48]
}

// encrypt returns "Salted__" || salt || AES-256-CBC(PKCS#7(plain)).
func encrypt(pass, salt, plain []byte) ([]byte, error) {
	if len(salt) != 8 {
		return nil, fmt.Errorf("salt must be 8 bytes, not %d", len(salt))
	}
	key, iv := deriveKeyIV(pass, salt)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	pad := aes.BlockSize - len(plain)%aes.BlockSize
	buf := make([]byte, len(plain)+pad)
	copy(buf, plain)
	for i := len(plain); i < len(buf); i++ {
		buf[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(buf, buf)
	out := make([]byte, 0, 16+len(buf))
	out = append(out, saltedMagic...)
	out = append(out, salt...)
	return append(out, buf...), nil
}

// mac is HMAC-SHA256 over the base64 blob, prefix included.
func mac(key []byte, full string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(full))
	return m.Sum(nil)
}
