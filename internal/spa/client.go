package spa

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/user"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/a-knock/knock/internal/exit"
	"github.com/a-knock/knock/internal/safeio"
)

// AllowResolve is the [Options.AllowIP] value that asks for the client's
// external address over HTTP before sending (fwknop's ALLOW_IP resolve,
// -R).
const AllowResolve = "resolve"

// Options is an SPA request as a profile or the command line gives it,
// before validation: every option of fwknop's client that changes what is
// sent or how it travels. The zero value of each field is fwknop's
// default.
type Options struct {
	// What fwknopd is asked for.
	Access     []string      // proto/port items, "tcp/22" (ACCESS, -A)
	AllowIP    string        // "" or "source" (the packet's source), an IPv4 address, or "resolve" (ALLOW_IP, -a, -s, -R)
	ResolveURL string        // with AllowIP "resolve": where to ask; "" is DefaultResolveURL (RESOLVE_URL)
	HTTPOnly   bool          // with AllowIP "resolve": plain HTTP only (RESOLVE_HTTP_ONLY, --resolve-http-only)
	FWTimeout  int           // seconds the server should keep the rule; 0 its default (FW_TIMEOUT, -f)
	NAT        string        // "internalIP[,port]" for NAT access, or "" (NAT_ACCESS, -N)
	NATLocal   bool          // forward to a port of the server itself (NAT_LOCAL, --nat-local)
	NATPort    uint16        // the server port to forward (NAT_PORT, --nat-port)
	NATRand    bool          // draw NATPort at random (NAT_RAND_PORT, --nat-rand-port)
	Command    string        // a command for fwknopd to run instead of opening ports (-C)
	User       string        // user name in the packet; "" the login name (SPOOF_USER, -U)
	Digest     Digest        // message digest (DIGEST_TYPE, -m)
	TimeOffset time.Duration // added to the packet's timestamp (TIME_OFFSET)

	// How the packet travels.
	Proto       string // "", "udp", "tcp", "http", "udpraw", "tcpraw" or "icmp" (SPA_SERVER_PROTO, -P)
	Port        uint16 // fwknopd's port; 0 means DefaultPort (SPA_SERVER_PORT, -p)
	RandPort    bool   // a random server port for every packet (RAND_PORT, -r)
	SourcePort  uint16 // the source port; 0 lets the system choose (SPA_SOURCE_PORT, -S)
	SpoofSource string // a spoofed source IPv4 address, raw transports only (SPOOF_SOURCE_IP, -Q)
	UserAgent   string // HTTP User-Agent of -P http and of resolving (HTTP_USER_AGENT, -u)
	ICMPType    uint8  // with icmp: the ICMP type; 0 (echo reply) as fwknop (--icmp-type)
	ICMPCode    uint8  // with icmp: the ICMP code (--icmp-code)

	// Keys are the Rijndael and HMAC keys, the HMAC digest and the
	// encryption mode. With GPG set, Keys.Enc must be empty and
	// Keys.GPG is filled in from GPG.
	Keys Keys
	// GPG, when set, encrypts to the server's key and signs with the
	// client's instead of Rijndael (USE_GPG).
	GPG *GPGOptions
}

// GPGOptions name the OpenPGP keys of a GPG request and carry them as an
// exported keyring: knock runs no gpg and reads no GnuPG home.
type GPGOptions struct {
	Recipient string // the server's key: key ID, fingerprint or part of a user ID (GPG_RECIPIENT)
	Signer    string // the client's key; "" sends an unsigned packet (GPG_SIGNER)
	// Keyring holds the keys, armored or binary (gpg --export and gpg
	// --export-secret-keys output, or [GPGKeyring.Export]). Secret.
	Keyring []byte
	// SigningPW unlocks the signer's private key when it is locked
	// (GPG_SIGNING_PW). Secret.
	SigningPW []byte
}

// Client sends fresh SPA packets for one validated request.
type Client struct {
	req      Request
	keys     Keys
	tr       Transport
	randPort bool
	natRand  bool // req.NATPort was drawn at random
	// localNAT: NAT_LOCAL without NAT_ACCESS, which forwards to the
	// server's own address, known only when sending.
	localNAT bool
	resolve  bool
	url      string // the resolve URL
	enc      Encoder

	// HTTP is the client that asks the resolve URL; nil means one with
	// a 10-second timeout.
	HTTP *http.Client
	// ServerName is the server as the user named it, for the Host
	// header of -P http; "" means its address.
	ServerName string

	mu       sync.Mutex
	resolved netip.Addr
}

// resolvePlaceholder is the longest allow IP: the packet built for checks
// and dry runs before the external address is known is no shorter than
// the one sent.
var resolvePlaceholder = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// NewClient validates o. Every problem is one bad-input error
// ([exit.Usage]) naming it, never a key. It builds one packet, so that a
// request too long for fwknopd is refused before anything is sent. With
// NATRand, the NAT port is drawn here, once, as fwknop's client draws it
// once per run: every packet of the client forwards the same port.
func NewClient(o Options) (*Client, error) {
	c, err := newClient(o)
	if err != nil {
		return nil, exit.Usage(err)
	}
	return c, nil
}

func newClient(o Options) (*Client, error) {
	keys := o.Keys
	if o.GPG != nil {
		if len(keys.Enc) > 0 {
			return nil, fmt.Errorf("%w: a Rijndael key and GPG exclude each other", ErrBadKey)
		}
		g, err := o.GPG.keys()
		if err != nil {
			return nil, err
		}
		keys.GPG = g
	}
	if err := keys.Validate(); err != nil {
		return nil, err
	}
	if err := keys.validateUse(); err != nil {
		return nil, err
	}
	req := Request{ClientTimeout: o.FWTimeout, Command: o.Command, Digest: o.Digest, NATLocal: o.NATLocal}
	var err error
	if o.Command == "" || len(o.Access) > 0 {
		if req.Access, err = ParseAccess(o.Access...); err != nil {
			return nil, err
		}
	}
	if o.Command != "" && len(req.Access) > 0 {
		return nil, fmt.Errorf("%w: a server command opens no ports; give either the command or the ports to open", ErrBadCommand)
	}
	c := &Client{keys: keys}
	switch strings.ToLower(strings.TrimSpace(o.AllowIP)) {
	case AllowResolve:
		c.resolve = true
		if c.url, err = resolveURL(o.ResolveURL, o.HTTPOnly); err != nil {
			return nil, err
		}
	default:
		if req.AllowIP, err = ParseAllowIP(o.AllowIP); err != nil {
			return nil, err
		}
		if o.ResolveURL != "" || o.HTTPOnly {
			return nil, fmt.Errorf("%w %q: a resolve URL or HTTP-only resolving needs the allow IP resolve", ErrBadAllowIP, o.AllowIP)
		}
	}
	if o.FWTimeout < 0 {
		return nil, fmt.Errorf("%w %d: want seconds >= 0", ErrBadTimeout, o.FWTimeout)
	}
	req.User = o.User
	if req.User == "" {
		req.User = LoginName()
	} else if err := ValidUser(req.User); err != nil {
		return nil, err
	}
	if o.NAT != "" {
		if req.NAT, err = ParseNATAccess(o.NAT); err != nil {
			return nil, err
		}
	} else if o.NATLocal {
		c.localNAT = true
		req.NAT = LocalNAT(resolvePlaceholder, req.Access)
	}
	if (o.NATPort != 0 || o.NATRand) && req.NAT == nil {
		return nil, fmt.Errorf("%w: a NAT port needs NAT access (--nat-access or --nat-local)", ErrBadNAT)
	}
	req.NATPort = o.NATPort
	if o.NATRand {
		if o.NATPort != 0 {
			return nil, fmt.Errorf("%w: a NAT port and a random NAT port exclude each other", ErrBadNAT)
		}
		if req.NATPort, err = RandomPort(); err != nil {
			return nil, err
		}
		c.natRand = true
	}
	if c.resolve {
		req.AllowIP = resolvePlaceholder
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	proto, err := ParseProto(o.Proto)
	if err != nil {
		return nil, err
	}
	if proto.Raw() && runtime.GOOS == "windows" {
		return nil, fmt.Errorf("%w: Windows does not allow %s (raw IPv4 packets); use udp, tcp or http", ErrRaw, proto)
	}
	port := o.Port
	if port == 0 {
		port = DefaultPort
	}
	c.tr = Transport{Proto: proto, Dst: netip.AddrPortFrom(resolvePlaceholder, port), SrcPort: o.SourcePort,
		UserAgent: o.UserAgent, ICMPType: o.ICMPType, ICMPCode: o.ICMPCode}
	c.randPort = o.RandPort
	if o.SpoofSource != "" {
		a, err := netip.ParseAddr(strings.TrimSpace(o.SpoofSource))
		if err != nil || !a.Unmap().Is4() {
			return nil, fmt.Errorf("%w: spoofed source %q is not an IPv4 address", ErrBadProto, o.SpoofSource)
		}
		c.tr.Src = a.Unmap()
	}
	if (o.ICMPType != 0 || o.ICMPCode != 0) && proto != ICMP {
		return nil, fmt.Errorf("%w: an ICMP type or code needs the icmp transport", ErrBadProto)
	}
	if err := validUserAgent(o.UserAgent); err != nil {
		return nil, err
	}
	if err := c.tr.Validate(); err != nil {
		return nil, err
	}
	c.req = req
	c.enc.TimeOffset = o.TimeOffset
	if _, err := c.enc.EncodePacket(c.req, c.keys); err != nil {
		return nil, err
	}
	return c, nil
}

// validUserAgent allows what fits an HTTP header: printable ASCII.
func validUserAgent(s string) error {
	if len(s) > 128 {
		return fmt.Errorf("%w: the HTTP user agent is %d characters long, at most 128", ErrBadProto, len(s))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return fmt.Errorf("%w: the HTTP user agent holds character %q", ErrBadProto, s[i])
		}
	}
	return nil
}

// keys reads the keyring and picks and unlocks the keys.
func (g *GPGOptions) keys() (*GPGKeys, error) {
	if strings.TrimSpace(g.Recipient) == "" {
		return nil, fmt.Errorf("%w: no recipient key (GPG_RECIPIENT, --gpg-recipient-key)", ErrGPG)
	}
	if len(g.Keyring) == 0 {
		return nil, fmt.Errorf("%w: no keyring holds the GPG keys (knock reads exported keys: --gpg-keyring FILE)", ErrGPG)
	}
	ring, err := ReadGPGKeyring(bytes.NewReader(g.Keyring))
	if err != nil {
		return nil, err
	}
	return ring.Keys(g.Recipient, g.Signer, g.SigningPW)
}

// resolveURL returns the URL ALLOW_IP resolve asks, checked: rawURL, or
// fwknop's default (over plain HTTP with httpOnly).
func resolveURL(rawURL string, httpOnly bool) (string, error) {
	if rawURL == "" {
		if httpOnly {
			return DefaultResolveHTTPURL, nil
		}
		return DefaultResolveURL, nil
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%w: resolve URL %q: want http://host/path or https://host/path", ErrBadAllowIP, rawURL)
	}
	if httpOnly && u.Scheme == "https" {
		return "", fmt.Errorf("%w: resolve URL %q is https, but HTTP-only resolving was asked for (as in fwknop)", ErrBadAllowIP, rawURL)
	}
	return rawURL, nil
}

// Proto is the transport packets travel over.
func (c *Client) Proto() Proto { return c.tr.Proto }

// Port is fwknopd's port, or 0 when every packet draws one (RAND_PORT).
func (c *Client) Port() uint16 {
	if c.randPort {
		return 0
	}
	return c.tr.Dst.Port()
}

// HasHMAC reports whether packets carry an HMAC.
func (c *Client) HasHMAC() bool { return len(c.keys.HMAC) > 0 }

// Request is the request packets carry. With ALLOW_IP resolve its allow
// IP is a placeholder until [Client.Send] resolved it; for local NAT
// without NAT access, its NAT host is a placeholder for the server.
func (c *Client) Request() Request { return c.req }

// WaitPort is the TCP port whose opening proves the request worked (see
// [Request.WaitPort]): with a random NAT port, the one drawn; 0 when
// there is none, or when fwknopd opens it for a spoofed source address
// (SPOOF_SOURCE_IP without an allow IP), which this client cannot check.
func (c *Client) WaitPort() uint16 {
	if c.tr.Src.IsValid() && !c.req.AllowIP.IsValid() {
		return 0
	}
	return c.req.WaitPort()
}

// RandomNAT reports whether the NAT port was drawn at random.
func (c *Client) RandomNAT() bool { return c.natRand }

// Resolves reports whether the allow IP is resolved over HTTP, and where.
func (c *Client) Resolves() (bool, string) {
	return c.resolve, c.url
}

// request is the request for one packet to server.
func (c *Client) request(server netip.Addr, allow netip.Addr) Request {
	r := c.req
	if c.localNAT {
		r.NAT = LocalNAT(server, r.Access)
	}
	if c.resolve {
		r.AllowIP = allow
	}
	return r
}

// Packet returns a fresh packet for server, without resolving: with
// ALLOW_IP resolve, the allow IP is a placeholder. For dry runs.
func (c *Client) Packet(server netip.Addr) (*Packet, error) {
	return c.enc.EncodePacket(c.request(server, resolvePlaceholder), c.keys)
}

// Sent describes one packet sent.
type Sent struct {
	Len     int            // characters on the wire (before HTTP framing)
	Dst     netip.AddrPort // where it went (the drawn port with RAND_PORT)
	AllowIP netip.Addr     // the allow IP sent; the zero Addr for the source address
}

// Resolve learns the external address for ALLOW_IP resolve, once: later
// calls return the first answer. It does nothing without resolve.
func (c *Client) Resolve(ctx context.Context) (netip.Addr, error) {
	if !c.resolve {
		return c.req.AllowIP, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.resolved.IsValid() {
		return c.resolved, nil
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: resolveTimeout}
	}
	a, err := ResolveExternalIP(ctx, hc, c.url, c.tr.UserAgent)
	if err != nil {
		return netip.Addr{}, err
	}
	c.resolved = a
	return a, nil
}

// Send encodes a fresh packet (a new salt and random field: fwknopd
// refuses a replayed one) and sends it to server over the client's
// transport, to a freshly drawn port with RAND_PORT. With ALLOW_IP
// resolve the first send asks the resolve URL. A raw transport that is
// not available (not root) is bad input.
func (c *Client) Send(ctx context.Context, server netip.Addr) (Sent, error) {
	allow, err := c.Resolve(ctx)
	if err != nil {
		return Sent{}, err
	}
	p, err := c.enc.EncodePacket(c.request(server, allow), c.keys)
	if err != nil {
		return Sent{}, exit.Usage(err)
	}
	tr := c.tr
	port := tr.Dst.Port()
	if c.randPort {
		if port, err = RandomPort(); err != nil {
			return Sent{}, err
		}
	}
	tr.Dst = netip.AddrPortFrom(server.Unmap(), port)
	tr.Host = c.ServerName
	s := Sent{Len: len(p.Wire), Dst: tr.Dst, AllowIP: allow}
	if err := tr.Send(ctx, p.Wire); err != nil {
		if errors.Is(err, ErrRaw) {
			return s, exit.Usage(fmt.Errorf("%w; the %s transport needs root or CAP_NET_RAW (use udp, tcp or http otherwise)", err, tr.Proto))
		}
		return s, err
	}
	return s, nil
}

// Describe summarises the request, without secrets.
func (c *Client) Describe() string {
	if c.req.Command != "" {
		return fmt.Sprintf("the server command %q for %s", c.req.Command, c.allowText())
	}
	var acc []string
	for _, a := range c.req.Access {
		acc = append(acc, a.String())
	}
	s := strings.Join(acc, ",") + " for " + c.allowText()
	if n := c.req.NAT; n != nil {
		host := n.Host.String()
		if c.localNAT {
			host = "the server"
		}
		port := n.Port
		if port == 0 {
			port = c.req.Access[0].Port
		}
		from := ""
		if c.req.NATPort != 0 {
			from = fmt.Sprintf(" from port %d", c.req.NATPort)
			if c.natRand {
				from = fmt.Sprintf(" from random port %d", c.req.NATPort)
			}
		}
		kind := "NAT"
		if c.req.NATLocal {
			kind = "local NAT"
		}
		s += fmt.Sprintf(" via %s to %s,%d%s", kind, host, port, from)
	}
	if c.req.ClientTimeout > 0 {
		s += fmt.Sprintf(", %d s", c.req.ClientTimeout)
	}
	return s
}

func (c *Client) allowText() string {
	switch {
	case c.resolve:
		_, u := c.Resolves()
		if c.resolved.IsValid() {
			return c.resolved.String() + " (from " + u + ")"
		}
		return "the address " + u + " answers"
	case c.req.AllowIP.IsValid():
		return c.req.AllowIP.String()
	}
	return "source address"
}

// Route summarises how packets travel: the transport, with a spoofed
// source or random ports when asked.
func (c *Client) Route() string {
	s := string(c.tr.Proto)
	if c.tr.Src.IsValid() {
		s += " from " + c.tr.Src.String()
	}
	if c.randPort {
		s += ", to a random port each packet"
	}
	return s
}

// LoginName is the user name fwknop would send: the login name, without
// a Windows domain, or "knock" when it is not a valid SPA user name.
func LoginName() string {
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if name == "" {
		name = os.Getenv("USER")
	}
	if i := strings.LastIndexByte(name, '\\'); i >= 0 {
		name = name[i+1:]
	}
	if ValidUser(name) != nil {
		return defUser
	}
	return name
}

// LoadKeyFile reads keys from the file at path (the output of knock spa
// keygen or fwknop --key-gen), or from stdin when path is "-". A file
// that group or others may read is refused, as ssh refuses a private key;
// on Windows, where modes do not describe ACLs, that check is skipped.
// With hmacOnly (a GPG request) the file may lack the Rijndael key and
// only its HMAC key is taken.
func LoadKeyFile(path string, stdin io.Reader, hmacOnly bool) (Keys, error) {
	b, err := readSecretFile("key file", path, stdin)
	if err != nil {
		return Keys{}, err
	}
	keys, err := parseKeyFile(bytes.NewReader(b), hmacOnly)
	if err != nil {
		return Keys{}, exit.Usagef("key file %s: %v", path, err)
	}
	return keys, nil
}

// LoadGPGKeyring reads exported GPG keys from the file at path ("-" for
// stdin). A file that holds a private key is refused when group or
// others may read it.
func LoadGPGKeyring(path string, stdin io.Reader) ([]byte, error) {
	var b []byte
	var err error
	if path == "-" {
		b, err = safeio.ReadAll(stdin, "standard input", maxKeyring)
	} else {
		b, err = safeio.ReadFile(path, maxKeyring)
	}
	if err != nil {
		return nil, exit.Usage(fmt.Errorf("GPG keyring: %w", err))
	}
	ring, err := ReadGPGKeyring(bytes.NewReader(b))
	if err != nil {
		return nil, exit.Usagef("GPG keyring %s: %v", path, err)
	}
	if ring.HasPrivate() && path != "-" {
		if err := checkPrivate("GPG keyring", path); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func readSecretFile(what, path string, stdin io.Reader) ([]byte, error) {
	var b []byte
	var err error
	if path == "-" {
		b, err = safeio.ReadAll(stdin, "standard input", safeio.SecretLimit)
	} else {
		if err := checkPrivate(what, path); err != nil {
			return nil, err
		}
		b, err = safeio.ReadFile(path, safeio.SecretLimit)
	}
	if err != nil {
		return nil, exit.Usage(fmt.Errorf("%s: %w", what, err))
	}
	return b, nil
}

func checkPrivate(what, path string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return exit.Usage(fmt.Errorf("%s: %w", what, err))
	}
	if perm := st.Mode().Perm(); st.Mode().IsRegular() && perm&0o077 != 0 {
		return exit.Usagef("%s %s is accessible by group or others (mode %04o); chmod 600 %s", what, path, perm, path)
	}
	return nil
}
