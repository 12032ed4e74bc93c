package spa

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/md5"
	"crypto/rand"
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
	// gpgPrefix is how base64 of a GPG message starts (an old-format
	// public-key encrypted session key packet with a two-byte length);
	// also dropped on the wire and restored by the server.
	gpgPrefix = "hQ"
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

// MaxWireLen is the longest payload fwknopd 2.6 reads.
const MaxWireLen = 1500

// Packet is one encoded SPA packet.
type Packet struct {
	// Wire is the payload to send: base64 without the constant prefix,
	// then the HMAC when there is an HMAC key.
	Wire string
	// Type is the message type sent.
	Type MsgType
	// AccessPort is the first port of the access message as sent: the
	// port fwknopd opens, or for NAT access the server port it forwards
	// (the NAT port when one was set or drawn, else the ACCESS port).
	// 0 for a command.
	AccessPort uint16
	// AccessProto is AccessPort's protocol, "tcp" or "udp".
	AccessProto string
	// WaitPort is the TCP port whose opening proves that fwknopd
	// accepted the packet (see [Request.WaitPort]), or 0.
	WaitPort uint16
}

// Encode returns the wire string of a fresh SPA packet for req: a new salt
// and random field every call. It fails when the request or keys are
// invalid, or when the packet would not fit fwknopd's limits.
func (e *Encoder) Encode(req Request, keys Keys) (string, error) {
	p, err := e.EncodePacket(req, keys)
	if err != nil {
		return "", err
	}
	return p.Wire, nil
}

// EncodePacket is [Encoder.Encode] that also tells what was sent: the
// message type and the port fwknopd opens or forwards (which
// NATRandPort draws anew for every packet).
func (e *Encoder) EncodePacket(req Request, keys Keys) (*Packet, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	if err := keys.Validate(); err != nil {
		return nil, err
	}
	if err := keys.validateUse(); err != nil {
		return nil, err
	}
	rnd, salt, err := e.entropy()
	if err != nil {
		return nil, err
	}
	if req.NATRandPort {
		if req.NATPort, err = randomPort(e.rand()); err != nil {
			return nil, err
		}
	}
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	ts := now().Add(e.TimeOffset).Unix()
	plain := plaintext(req, rnd, ts)
	var full, wire string
	if keys.GPG != nil {
		blob, err := keys.GPG.encrypt([]byte(plain), e.rand())
		if err != nil {
			return nil, err
		}
		full = b64.EncodeToString(blob)
		if !strings.HasPrefix(full, gpgPrefix) {
			return nil, fmt.Errorf("GPG message starts with %q, not %q", full[:2], gpgPrefix)
		}
		wire = full[len(gpgPrefix):]
	} else {
		pass := keys.Enc
		if keys.Mode == ModeLegacy {
			pass = legacyKey(pass)
		}
		blob, err := encrypt(pass, salt, []byte(plain))
		if err != nil {
			return nil, err
		}
		full = b64.EncodeToString(blob)
		wire = full[len(b64Prefix):]
	}
	if len(keys.HMAC) > 0 {
		wire += b64.EncodeToString(keys.HMACDigest.hmacSum(keys.HMAC, full))
	}
	switch {
	case keys.GPG == nil && len(wire) >= GPGWireLen:
		return nil, fmt.Errorf("%w: the packet would be %d characters and fwknopd takes %d or more for GPG; ask for fewer ports, a shorter command or a shorter digest", ErrTooLong, len(wire), GPGWireLen)
	case len(wire) > MaxWireLen:
		return nil, fmt.Errorf("%w: the packet would be %d characters and fwknopd reads at most %d; use a smaller GPG key or a shorter request", ErrTooLong, len(wire), MaxWireLen)
	case len(wire) < MinWireLen:
		return nil, fmt.Errorf("%w: the packet would be %d characters and fwknopd ignores fewer than %d; use a longer digest or an HMAC key", ErrTooShort, len(wire), MinWireLen)
	}
	p := &Packet{Wire: wire, Type: req.MsgType(), WaitPort: req.WaitPort()}
	if req.Command == "" {
		p.AccessPort, p.AccessProto = req.Access[0].Port, req.Access[0].Proto
		if req.NATPort != 0 {
			p.AccessPort = req.NATPort
		}
	}
	return p, nil
}

func (e *Encoder) rand() io.Reader {
	if e.Rand != nil {
		return e.Rand
	}
	return rand.Reader
}

// MinRandPort is the lowest port fwknop's client draws for RAND_PORT and
// NAT_RAND_PORT.
const MinRandPort = 10000

// RandomPort draws a port as fwknop's client does for RAND_PORT (the
// server port) and NAT_RAND_PORT: uniformly from MinRandPort..65534.
func RandomPort() (uint16, error) { return randomPort(rand.Reader) }

func randomPort(r io.Reader) (uint16, error) {
	var b [8]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return 0, fmt.Errorf("read random bytes: %w", err)
	}
	return uint16(MinRandPort + binary.BigEndian.Uint64(b[:])%(65535-MinRandPort)), nil
}

// entropy returns the 16-digit random field and the 8-byte salt.
func (e *Encoder) entropy() (string, []byte, error) {
	if e.fixedRand != "" {
		return e.fixedRand, e.fixedSalt, nil
	}
	var buf [16]byte
	if _, err := io.ReadFull(e.rand(), buf[:]); err != nil {
		return "", nil, fmt.Errorf("read random bytes: %w", err)
	}
	// 16 decimal digits, the first non-zero.
	n := binary.BigEndian.Uint64(buf[:8])%9_000_000_000_000_000 + 1_000_000_000_000_000
	return strconv.FormatUint(n, 10), buf[8:], nil
}

// fields returns RAND:USER:TS:VERSION:TYPE:MSG[:NAT][:TIMEOUT]. A command
// carries no timeout, as in fwknop.
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
		strconv.Itoa(int(req.msgType())),
		b64.EncodeToString([]byte(req.message(req.NATPort))),
	}
	if req.NAT != nil && req.Command == "" {
		f = append(f, b64.EncodeToString([]byte(req.natString())))
	}
	if req.ClientTimeout > 0 && req.Command == "" {
		f = append(f, strconv.Itoa(req.ClientTimeout))
	}
	return strings.Join(f, ":")
}

// plaintext appends the message digest of the fields.
func plaintext(req Request, rnd string, ts int64) string {
	f := fields(req, rnd, ts)
	return f + ":" + req.Digest.sum([]byte(f))
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
