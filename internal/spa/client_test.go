package spa

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/a-knock/knock/internal/exit"
)

func clientKeys(t *testing.T) Keys {
	t.Helper()
	k, err := ParseKeys("wzNP62oPPgEc+kXDPQLHPOayQBuNbYUTPP+QrErNDmg=", "Yh+xizBnl6FotC5ec7FanVGClRMlsOAPh2u6eovnerfBVKwaVKzjGoblFMHMc593TNyi0dWn4opLoTIV9q/ttg==")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestSPAClientErrors: every bad option is one bad-input error naming
// it, never a key.
func TestSPAClientErrors(t *testing.T) {
	keys := clientKeys(t)
	ok := func(edit func(o *Options)) Options {
		o := Options{Access: []string{"tcp/22"}, Keys: keys}
		edit(&o)
		return o
	}
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"no access", ok(func(o *Options) { o.Access = nil }), "no proto/port given"},
		{"command and access", ok(func(o *Options) { o.Command = "ls" }), "either the command or the ports"},
		{"command control", ok(func(o *Options) { o.Access, o.Command = nil, "ls\n" }), "control character"},
		{"resolve url", ok(func(o *Options) { o.AllowIP, o.ResolveURL = "resolve", "ftp://x/" }), `resolve URL "ftp://x/"`},
		{"https only http", ok(func(o *Options) { o.AllowIP, o.ResolveURL, o.HTTPOnly = "resolve", "https://x/", true }), "HTTP-only"},
		{"url without resolve", ok(func(o *Options) { o.ResolveURL = "http://x/" }), "needs the allow IP resolve"},
		{"nat port without nat", ok(func(o *Options) { o.NATPort = 5 }), "a NAT port needs NAT access"},
		{"nat port and rand", ok(func(o *Options) { o.NAT, o.NATPort, o.NATRand = "192.0.2.1", 5, true }), "exclude each other"},
		{"nat rand two ports", ok(func(o *Options) { o.Access, o.NAT, o.NATRand = []string{"tcp/22,tcp/80"}, "192.0.2.1", true }), "exactly one proto/port"},
		{"nat host", ok(func(o *Options) { o.NAT = "nat.example,22" }), `"nat.example" is not an IPv4 address`},
		{"proto", ok(func(o *Options) { o.Proto = "sctp" }), `invalid SPA transport protocol "sctp"`},
		{"spoof udp", ok(func(o *Options) { o.SpoofSource = "198.51.100.9" }), "needs udpraw, tcpraw or icmp"},
		{"spoof v6", ok(func(o *Options) { o.Proto, o.SpoofSource = "udpraw", "2001:db8::1" }), `"2001:db8::1" is not an IPv4 address`},
		{"icmp type", ok(func(o *Options) { o.ICMPType = 8 }), "needs the icmp transport"},
		{"agent", ok(func(o *Options) { o.UserAgent = "a\r\nb" }), "user agent holds"},
		{"user", ok(func(o *Options) { o.User = "a b" }), `invalid user name "a b"`},
		{"timeout", ok(func(o *Options) { o.FWTimeout = -1 }), "invalid client timeout -1"},
		{"legacy hmac", ok(func(o *Options) { o.Keys.Mode = ModeLegacy }), "legacy encryption mode cannot be used with an HMAC key"},
		{"gpg and key", ok(func(o *Options) { o.GPG = &GPGOptions{Recipient: "x"} }), "a Rijndael key and GPG exclude each other"},
		{"gpg no keyring", ok(func(o *Options) { o.Keys.Enc, o.GPG = nil, &GPGOptions{Recipient: "x"} }), "--gpg-keyring FILE"},
		{"gpg no recipient", ok(func(o *Options) { o.Keys.Enc, o.GPG = nil, &GPGOptions{Keyring: []byte{1}} }), "no recipient key"},
	}
	if runtime.GOOS == "windows" {
		tests = append(tests, struct {
			name string
			o    Options
			want string
		}{"raw on windows", ok(func(o *Options) { o.Proto = "udpraw" }), "Windows does not allow udpraw"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewClient(tt.o)
			if err == nil || !exit.IsUsage(err) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want a usage error with %q", err, tt.want)
			}
			k, h := keys.Base64()
			if strings.Contains(err.Error(), k) || strings.Contains(err.Error(), h) {
				t.Fatal("a key in the message")
			}
		})
	}
}

// TestSPAClientSend: each Send is a fresh packet over the configured
// transport: to a new random port with RandPort, with the resolved
// allow IP, a NAT port drawn once, local NAT to the server's address.
func TestSPAClientSend(t *testing.T) {
	keys := clientKeys(t)
	asks := 0
	resolver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asks++
		if r.Header.Get("User-Agent") != "Fwknop/lab" {
			http.Error(w, "agent", http.StatusForbidden)
			return
		}
		io.WriteString(w, "198.51.100.55\n")
	}))
	defer resolver.Close()
	c, err := NewClient(Options{
		Access: []string{"tcp/2222"}, NATLocal: true, NATRand: true,
		AllowIP: "resolve", ResolveURL: resolver.URL + "/myip", UserAgent: "Fwknop/lab",
		Digest: DigestSHA512, FWTimeout: 30, User: "mbrtest", Keys: keys,
	})
	if err != nil {
		t.Fatal(err)
	}
	natPort := c.WaitPort()
	if !c.RandomNAT() || natPort < MinRandPort {
		t.Fatalf("random NAT port %d", natPort)
	}
	if d := c.Describe(); !strings.Contains(d, "tcp/2222 for the address "+resolver.URL) ||
		!strings.Contains(d, fmt.Sprintf("via local NAT to the server,2222 from random port %d, 30 s", natPort)) {
		t.Fatalf("Describe before resolving: %q", d)
	}
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	c.tr.Dst = netip.AddrPortFrom(c.tr.Dst.Addr(), uint16(pc.LocalAddr().(*net.UDPAddr).Port))
	server := netip.MustParseAddr("127.0.0.1")
	var wires []string
	for i := 0; i < 2; i++ {
		s, err := c.Send(context.Background(), server)
		if err != nil {
			t.Fatal(err)
		}
		if s.AllowIP.String() != "198.51.100.55" || s.Dst.Addr() != server {
			t.Fatalf("sent %+v", s)
		}
		buf := make([]byte, 2048)
		_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		if n != s.Len {
			t.Fatalf("read %d bytes, sent %d", n, s.Len)
		}
		wires = append(wires, string(buf[:n]))
	}
	if wires[0] == wires[1] {
		t.Fatal("a resend repeated the packet")
	}
	if asks != 1 {
		t.Fatalf("the resolve URL was asked %d times, want once", asks)
	}
	d, err := testDecode(wires[1], rawKeys(keys))
	if err != nil {
		t.Fatal(err)
	}
	// Local NAT forwards the drawn port to the server itself; the
	// message asks for that port.
	want := decoded{User: "mbrtest", Type: int(TypeLocalNATClientTimeout),
		Message: fmt.Sprintf("198.51.100.55,tcp/%d", natPort), NAT: "127.0.0.1,2222", Timeout: 30}
	if d.User != want.User || d.Type != want.Type || d.Message != want.Message || d.NAT != want.NAT || d.Timeout != want.Timeout || d.Digest != "sha512" {
		t.Fatalf("decoded %+v, want %+v", d, want)
	}
	if c.WaitPort() != natPort {
		t.Fatal("the NAT port changed between packets")
	}

	// RAND_PORT: every packet to a port of its own.
	r, err := NewClient(Options{Access: []string{"tcp/22"}, RandPort: true, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	if r.Port() != 0 || !strings.Contains(r.Route(), "random port") {
		t.Fatalf("rand port client: port %d route %q", r.Port(), r.Route())
	}
	ports := map[uint16]bool{}
	for i := 0; i < 4; i++ {
		s, err := r.Send(context.Background(), server)
		if err != nil {
			t.Fatal(err)
		}
		if s.Dst.Port() < MinRandPort {
			t.Fatalf("random port %d", s.Dst.Port())
		}
		ports[s.Dst.Port()] = true
	}
	if len(ports) < 2 {
		t.Fatalf("four packets went to %d port(s)", len(ports))
	}

	// A spoofed source: the door opens for that address, which the
	// client cannot check; with an allow IP it can.
	for allow, want := range map[string]uint16{"source": 0, "198.51.100.1": 22} {
		sp, err := NewClient(Options{Access: []string{"tcp/22"}, Proto: "udpraw", SpoofSource: "198.51.100.77", AllowIP: allow, Keys: keys})
		if err != nil {
			t.Fatal(err)
		}
		if sp.WaitPort() != want {
			t.Fatalf("spoofed source, allow %s: wait port %d, want %d", allow, sp.WaitPort(), want)
		}
	}

	// A command: no wait port, nothing but the command in the message.
	cmd, err := NewClient(Options{Command: "touch /tmp/x", Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	if cmd.WaitPort() != 0 || cmd.Request().MsgType() != TypeCommand || !strings.Contains(cmd.Describe(), `"touch /tmp/x"`) {
		t.Fatalf("command: %d %v %q", cmd.WaitPort(), cmd.Request().MsgType(), cmd.Describe())
	}
}

// TestSPAClientResolveFails: an unreachable or wrong resolve URL is a
// failure to send, and nothing is sent.
func TestSPAClientResolveFails(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "<html>") }))
	defer srv.Close()
	c, err := NewClient(Options{Access: []string{"tcp/22"}, AllowIP: "resolve", ResolveURL: srv.URL, Keys: clientKeys(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(context.Background(), netip.MustParseAddr("127.0.0.1")); !errors.Is(err, ErrResolve) || exit.IsUsage(err) {
		t.Fatalf("got %v, want a resolve failure", err)
	}
}

// TestSPAClientGPG: a request carries its GPG keys as an exported keyring
// that Export shrinks to the two keys used, still locked.
func TestSPAClientGPG(t *testing.T) {
	server, client := testGPGEntities(t)
	pass := []byte("signing passphrase")
	other, err := openpgp.NewEntity("other", "", "other@example.org", nil)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := ReadGPGKeyring(
		bytes.NewReader(exportKey(t, server, false, true, nil)),
		bytes.NewReader(exportKey(t, other, false, false, nil)),
		bytes.NewReader(exportKey(t, client, true, true, pass)))
	if err != nil {
		t.Fatal(err)
	}
	serverID := keyID(server)
	exported, err := ring.Export(serverID, "client@example.org")
	if err != nil {
		t.Fatal(err)
	}
	small, err := ReadGPGKeyring(bytes.NewReader(exported))
	if err != nil {
		t.Fatal(err)
	}
	if len(small.list) != 2 || !small.HasPrivate() {
		t.Fatalf("exported %d keys", len(small.list))
	}
	if _, err := small.Find("other@example.org"); err == nil {
		t.Fatal("an unused key was exported")
	}
	// Unlocking does not touch the keyring: the next call checks its own
	// passphrase, and an export stays locked.
	if _, err := ring.Keys(serverID, "client@example.org", pass); err != nil {
		t.Fatal(err)
	}
	if _, err := ring.Keys(serverID, "client@example.org", nil); err == nil {
		t.Fatal("the keyring kept an unlocked key")
	}
	if again, _ := ring.Export(serverID, "client@example.org"); !bytes.Equal(again, exported) {
		t.Fatal("the export changed after an unlock")
	}
	if _, err := ring.Export(serverID, "other@example.org"); err == nil || !strings.Contains(err.Error(), "only its public key") {
		t.Fatalf("public signer: %v", err)
	}
	g := &GPGOptions{Recipient: serverID, Signer: "client@example.org", Keyring: exported}
	if _, err := NewClient(Options{Access: []string{"tcp/22"}, GPG: g}); err == nil || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("locked signer: %v", err)
	}
	g.SigningPW = pass
	c, err := NewClient(Options{Access: []string{"tcp/22"}, GPG: g, Keys: Keys{HMAC: []byte("hmac key")}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Packet(netip.MustParseAddr("198.51.100.2"))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Wire) < GPGWireLen {
		t.Fatalf("GPG packet of %d characters", len(p.Wire))
	}
	if r, s := c.keys.GPG.KeyIDs(); r != serverID || s != keyID(client) {
		t.Fatalf("key IDs %s %s", r, s)
	}
}

// TestSPAKeyFileHMACOnly: with GPG a key file gives the HMAC key alone.
func TestSPAKeyFileHMACOnly(t *testing.T) {
	k, err := parseKeyFile(strings.NewReader("HMAC_KEY_BASE64: aG1hYyBrZXk=\n"), true)
	if err != nil || string(k.HMAC) != "hmac key" || k.Enc != nil {
		t.Fatalf("%v %+v", err, k)
	}
	k, err = parseKeyFile(strings.NewReader("KEY_BASE64 a2V5\nHMAC_KEY hmac\n"), true)
	if err != nil || k.Enc != nil || string(k.HMAC) != "hmac" {
		t.Fatalf("%v %+v", err, k)
	}
	if _, err := parseKeyFile(strings.NewReader("KEY_BASE64 a2V5\n"), true); !errors.Is(err, ErrBadKeyFile) {
		t.Fatalf("no HMAC key: %v", err)
	}
	if _, err := parseKeyFile(strings.NewReader("HMAC_KEY x\n"), false); !errors.Is(err, ErrBadKeyFile) {
		t.Fatalf("no key: %v", err)
	}
}

// TestSPAClientResolveURL: fwknop's default URL, over plain HTTP with
// HTTP-only resolving.
func TestSPAClientResolveURL(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{AllowIP: "resolve"}, DefaultResolveURL},
		{Options{AllowIP: "Resolve", HTTPOnly: true}, DefaultResolveHTTPURL},
		{Options{AllowIP: "resolve", ResolveURL: "http://198.51.100.2/ip", HTTPOnly: true}, "http://198.51.100.2/ip"},
	} {
		tc.o.Access, tc.o.Keys = []string{"tcp/22"}, clientKeys(t)
		c, err := NewClient(tc.o)
		if err != nil {
			t.Fatal(err)
		}
		if ok, u := c.Resolves(); !ok || u != tc.want {
			t.Errorf("%+v: resolves %v at %q, want %q", tc.o, ok, u, tc.want)
		}
	}
}
