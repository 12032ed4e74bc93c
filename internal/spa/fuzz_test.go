package spa

import (
	"bufio"
	"bytes"
	"os"
	"strings"
	"testing"
)

// FuzzSPAParsers feeds every option parser of the package the same
// strings: none may panic, and what they accept must hold together.
func FuzzSPAParsers(f *testing.F) {
	fh, err := os.Open("testdata/parser-seeds.txt")
	if err != nil {
		f.Fatal(err)
	}
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		f.Add(sc.Text())
	}
	fh.Close()
	f.Fuzz(func(t *testing.T, s string) {
		if d, err := ParseDigest(s); err == nil {
			if back, err := ParseDigest(d.String()); err != nil || back != d {
				t.Fatalf("digest %q does not round-trip", s)
			}
		}
		if m, err := ParseMode(s); err == nil && m != ModeCBC && m != ModeLegacy {
			t.Fatalf("mode %q -> %d", s, m)
		}
		if p, err := ParseProto(s); err == nil && !strings.Contains(strings.Join(Protos(), ","), string(p)) {
			t.Fatalf("proto %q -> %q", s, p)
		}
		if n, err := ParseNATAccess(s); err == nil && !n.Host.Is4() {
			t.Fatalf("NAT %q -> %v", s, n)
		}
		if a, err := parseResolved(s); err == nil && !a.Is4() {
			t.Fatalf("resolved %q -> %v", s, a)
		}
	})
}

// FuzzGPGKeyring reads arbitrary bytes as an exported keyring.
func FuzzGPGKeyring(f *testing.F) {
	key, err := os.ReadFile("testdata/gpg-public.asc")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(key)
	f.Add(key[:len(key)/2])
	f.Add([]byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n-----END PGP PUBLIC KEY BLOCK-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ring, err := ReadGPGKeyring(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, e := range ring.list {
			if _, err := ring.Find(keyID(e)); err != nil {
				t.Fatalf("key %s read but not found: %v", keyID(e), err)
			}
		}
		_, _ = ring.Keys(keyID(ring.list[0]), "", nil)
	})
}
