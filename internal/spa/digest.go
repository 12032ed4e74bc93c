package spa

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"strings"
)

// ErrBadDigest is wrapped by errors about a digest name.
var ErrBadDigest = errors.New("invalid digest type")

// Digest is a hash algorithm of fwknop: for the SPA message digest
// (DIGEST_TYPE, --digest-type) and for the HMAC (HMAC_DIGEST_TYPE,
// --hmac-digest-type). The zero value means SHA-256, fwknop's default for
// both.
type Digest int

// The digests of fwknop 2.6, in fwknop's own order.
const (
	DigestSHA256 Digest = iota // the default
	DigestMD5
	DigestSHA1
	DigestSHA384
	DigestSHA512
	DigestSHA3_256
	DigestSHA3_512
)

var digestNames = map[Digest]string{
	DigestMD5:      "md5",
	DigestSHA1:     "sha1",
	DigestSHA256:   "sha256",
	DigestSHA384:   "sha384",
	DigestSHA512:   "sha512",
	DigestSHA3_256: "sha3_256",
	DigestSHA3_512: "sha3_512",
}

// Digests lists every digest name fwknop accepts, for help and completion.
func Digests() []string {
	return []string{"md5", "sha1", "sha256", "sha384", "sha512", "sha3_256", "sha3_512"}
}

// ParseDigest parses a digest name as fwknop's client does, ignoring case:
// md5, sha1, sha256, sha384, sha512, sha3_256 or sha3_512. Empty means
// sha256.
func ParseDigest(s string) (Digest, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "" {
		return DigestSHA256, nil
	}
	for d, name := range digestNames {
		if name == t {
			return d, nil
		}
	}
	return 0, fmt.Errorf("%w %q (want one of %s)", ErrBadDigest, s, strings.Join(Digests(), ", "))
}

// String returns fwknop's name of the digest, such as "sha3_256".
func (d Digest) String() string {
	if n, ok := digestNames[d]; ok {
		return n
	}
	return fmt.Sprintf("Digest(%d)", int(d))
}

// valid reports whether d is one of the constants.
func (d Digest) valid() bool { _, ok := digestNames[d]; return ok }

// newHash returns the hash constructor of d.
func (d Digest) newHash() func() hash.Hash {
	switch d {
	case DigestMD5:
		return md5.New
	case DigestSHA1:
		return sha1.New
	case DigestSHA384:
		return sha512.New384
	case DigestSHA512:
		return sha512.New
	case DigestSHA3_256:
		return func() hash.Hash { return sha3.New256() }
	case DigestSHA3_512:
		return func() hash.Hash { return sha3.New512() }
	}
	return sha256.New
}

// Size returns the digest's length in bytes.
func (d Digest) Size() int { return d.newHash()().Size() }

// EncodedLen returns the digest's length on the wire: unpadded base64,
// 22 (md5), 27 (sha1), 43 (sha256, sha3_256), 64 (sha384) or 86 (sha512,
// sha3_512) characters. fwknopd tells the message digest by this length.
func (d Digest) EncodedLen() int { return b64.EncodedLen(d.Size()) }

// sum returns the unpadded base64 digest of data.
func (d Digest) sum(data []byte) string {
	h := d.newHash()()
	h.Write(data)
	return b64.EncodeToString(h.Sum(nil))
}

// hmacSum returns the RFC 2104 HMAC of data with key under d. fwknop's
// own HMAC code uses each hash's block size (136 bytes for SHA3-256, 72
// for SHA3-512), as crypto/hmac does.
func (d Digest) hmacSum(key []byte, data string) []byte {
	m := hmac.New(d.newHash(), key)
	m.Write([]byte(data))
	return m.Sum(nil)
}
