package spa

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/user"
	"runtime"
	"strings"
	"time"

	"github.com/a-knock/knock/internal/exit"
	"github.com/a-knock/knock/internal/safeio"
)

// Options is an SPA request as a profile or the command line gives it,
// before validation.
type Options struct {
	Access     []string      // proto/port items, "tcp/22"
	AllowIP    string        // "" or "source" (the packet's source), or an IPv4 address
	Port       uint16        // fwknopd's port; 0 means [DefaultPort]
	Proto      string        // "", "udp" or "tcp"
	FWTimeout  int           // seconds the server should keep the rule; 0 its default
	TimeOffset time.Duration // added to the packet's timestamp
	NAT        string        // "internalIP,port" for NAT access, or ""
	User       string        // user name in the packet; "" the login name
	Keys       Keys
}

// Client sends fresh SPA packets for one validated request.
type Client struct {
	Req   Request
	Keys  Keys
	Proto Proto
	Port  uint16
	enc   Encoder
}

// NewClient validates o. Every problem is one bad-input error
// ([exit.Usage]) naming it. It builds one packet, so that a request too
// long for fwknopd is refused before anything is sent.
func NewClient(o Options) (*Client, error) {
	if err := o.Keys.Validate(); err != nil {
		return nil, exit.Usage(err)
	}
	acc, err := ParseAccess(o.Access...)
	if err != nil {
		return nil, exit.Usage(err)
	}
	allow, err := ParseAllowIP(o.AllowIP)
	if err != nil {
		return nil, exit.Usage(err)
	}
	proto, err := ParseProto(o.Proto)
	if err != nil {
		return nil, exit.Usage(err)
	}
	if o.FWTimeout < 0 {
		return nil, exit.Usagef("invalid fw-timeout %d (want seconds >= 0)", o.FWTimeout)
	}
	req := Request{User: o.User, AllowIP: allow, Access: acc, ClientTimeout: o.FWTimeout}
	if req.User == "" {
		req.User = LoginName()
	} else if err := ValidUser(req.User); err != nil {
		return nil, exit.Usage(err)
	}
	if o.NAT != "" {
		if req.NAT, err = ParseNAT(o.NAT); err != nil {
			return nil, exit.Usage(err)
		}
	}
	c := &Client{Req: req, Keys: o.Keys, Proto: proto, Port: o.Port}
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	c.enc.TimeOffset = o.TimeOffset
	if _, err := c.enc.Encode(c.Req, c.Keys); err != nil {
		return nil, exit.Usage(err)
	}
	return c, nil
}

// Packet returns the wire string of a fresh packet.
func (c *Client) Packet() (string, error) { return c.enc.Encode(c.Req, c.Keys) }

// Send encodes a fresh packet (a new salt and random field: fwknopd
// refuses a replayed one) and sends it to addr. It returns the packet's
// length.
func (c *Client) Send(ctx context.Context, addr netip.Addr) (int, error) {
	wire, err := c.Packet()
	if err != nil {
		return 0, exit.Usage(err)
	}
	return len(wire), Send(ctx, netip.AddrPortFrom(addr, c.Port), c.Proto, wire)
}

// WaitPort is the port that proves the request worked: the first TCP
// port asked for (through NAT, fwknopd forwards it); 0 when there is none.
func (c *Client) WaitPort() uint16 { return WaitPort(c.Req) }

// WaitPort is [Client.WaitPort] for a request.
func WaitPort(req Request) uint16 {
	if req.NAT != nil {
		return req.NAT.Port
	}
	for _, a := range req.Access {
		if a.Proto == "tcp" {
			return a.Port
		}
	}
	return 0
}

// Describe summarises the request, without secrets.
func (c *Client) Describe() string {
	var acc []string
	for _, a := range c.Req.Access {
		acc = append(acc, a.String())
	}
	allow := "source address"
	if c.Req.AllowIP.IsValid() {
		allow = c.Req.AllowIP.String()
	}
	s := strings.Join(acc, ",") + " for " + allow
	if c.Req.NAT != nil {
		s += " via NAT " + c.Req.NAT.String()
	}
	if c.Req.ClientTimeout > 0 {
		s += fmt.Sprintf(", %d s", c.Req.ClientTimeout)
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
func LoadKeyFile(path string, stdin io.Reader) (Keys, error) {
	var b []byte
	var err error
	if path == "-" {
		b, err = safeio.ReadAll(stdin, "standard input", safeio.SecretLimit)
	} else {
		if err := checkPrivate(path); err != nil {
			return Keys{}, err
		}
		b, err = safeio.ReadFile(path, safeio.SecretLimit)
	}
	if err != nil {
		return Keys{}, exit.Usage(fmt.Errorf("key file: %w", err))
	}
	keys, err := ParseKeyFile(bytes.NewReader(b))
	if err != nil {
		return Keys{}, exit.Usagef("key file %s: %v", path, err)
	}
	return keys, nil
}

func checkPrivate(path string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return exit.Usage(fmt.Errorf("key file: %w", err))
	}
	if perm := st.Mode().Perm(); st.Mode().IsRegular() && perm&0o077 != 0 {
		return exit.Usagef("key file %s is accessible by group or others (mode %04o); chmod 600 %s", path, perm, path)
	}
	return nil
}
