package fwknoprc

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/a-knock/knock/internal/spa"
)

// ErrNoKey is returned by [Config.Keys] when the stanza lacks a key that
// fwknop's client would prompt for.
var ErrNoKey = errors.New("no key in the stanza")

// VarError is an error about the value of one variable: its name and
// the line that set it (0 when unknown). It never holds the value.
type VarError struct {
	Line int
	Name string
	Err  error
}

func (e *VarError) Error() string {
	if e.Line == 0 {
		return e.Name + ": " + e.Err.Error()
	}
	return fmt.Sprintf("line %d: %s: %v", e.Line, e.Name, e.Err)
}

func (e *VarError) Unwrap() error { return e.Err }

// varErr ties err to the variable name as the stanza set it.
func (c *Config) varErr(name string, err error) error {
	return &VarError{Line: c.Lines[name], Name: name, Err: err}
}

// Keys returns the stanza's keys as fwknop's client picks them
// (client/fwknop.c get_keys): KEY wins over KEY_BASE64, HMAC_KEY over
// HMAC_KEY_BASE64; an HMAC key is used whenever there is one (USE_HMAC N
// does not turn it off); with the digest and mode of the stanza. With
// USE_GPG the Rijndael key is not needed: add the GPG keys with
// [Config.GPGKeys]. Errors name the line, never a key; a bad key is a
// [*VarError] naming the variable at fault.
func (c *Config) Keys() (spa.Keys, error) {
	k := spa.Keys{HMACDigest: c.HMACDigest, Mode: c.Mode}
	keyName, hmacName := "KEY_BASE64", "HMAC_KEY_BASE64"
	var err error
	if !c.UseGPG {
		switch {
		case c.Key != "":
			keyName, k.Enc = "KEY", []byte(c.Key)
		case c.KeyBase64 != "":
			if k.Enc, err = spa.DecodeKey("KEY_BASE64", c.KeyBase64); err != nil {
				return spa.Keys{}, c.varErr("KEY_BASE64", err)
			}
		default:
			return spa.Keys{}, fmt.Errorf("%w: no KEY_BASE64 or KEY (fwknop would prompt for it)", ErrNoKey)
		}
	}
	switch {
	case c.HMACKey != "":
		hmacName, k.HMAC = "HMAC_KEY", []byte(c.HMACKey)
	case c.HMACKeyBase64 != "":
		if k.HMAC, err = spa.DecodeKey("HMAC_KEY_BASE64", c.HMACKeyBase64); err != nil {
			return spa.Keys{}, c.varErr("HMAC_KEY_BASE64", err)
		}
	case c.UseHMAC:
		return spa.Keys{}, fmt.Errorf("%w: USE_HMAC is Y but there is no HMAC_KEY_BASE64 or HMAC_KEY (fwknop would prompt for it)", ErrNoKey)
	}
	if c.UseGPG {
		// The GPG keys come later; check what can be checked now.
		k.GPG = &spa.GPGKeys{}
		err = k.ValidateAs(keyName, hmacName)
		k.GPG = nil
	} else {
		err = k.ValidateAs(keyName, hmacName)
	}
	if err != nil {
		// A key too long is at fault, else the HMAC key (too long, or
		// equal to the key).
		name := hmacName
		if len(k.Enc) > spa.MaxKeyLen {
			name = keyName
		}
		return spa.Keys{}, c.varErr(name, err)
	}
	return k, nil
}

// Request returns the access request of the stanza. server is the SPA
// server's address: local NAT without NAT_ACCESS forwards to it, as in
// fwknop. With Resolve set, AllowIP is left zero: resolve the address
// (spa.ResolveExternalIP with ResolveURL) and set it.
func (c *Config) Request(server netip.Addr) (spa.Request, error) {
	if c.Access == "" {
		return spa.Request{}, fmt.Errorf("%w: no ACCESS (such as tcp/22)", spa.ErrBadAccess)
	}
	acc, err := spa.ParseAccess(c.Access)
	if err != nil {
		return spa.Request{}, c.varErr("ACCESS", err)
	}
	r := spa.Request{
		User:          c.SpoofUser,
		Access:        acc,
		ClientTimeout: c.FWTimeout,
		Digest:        c.Digest,
		NATLocal:      c.NATLocal,
	}
	if c.AllowIP != "" && c.AllowIP != "source" {
		if r.AllowIP, err = spa.ParseAllowIP(c.AllowIP); err != nil {
			return spa.Request{}, c.varErr("ALLOW_IP", err)
		}
	}
	switch {
	case c.NATAccess != "":
		if r.NAT, err = spa.ParseNATAccess(c.NATAccess); err != nil {
			return spa.Request{}, c.varErr("NAT_ACCESS", err)
		}
	case c.NATLocal:
		r.NAT = spa.LocalNAT(server, acc)
	}
	if r.NAT != nil {
		r.NATPort, r.NATRandPort = c.NATPort, c.NATRand
	}
	if err := r.Validate(); err != nil {
		return spa.Request{}, err
	}
	return r, nil
}

// Transport returns how the stanza sends to server. With RandPort set,
// draw the port for every packet with spa.RandomPort and set Dst's port.
func (c *Config) Transport(server netip.Addr) (spa.Transport, error) {
	proto, err := spa.ParseProto(c.Proto)
	if err != nil {
		return spa.Transport{}, err
	}
	p := c.ServerPort
	if p == 0 {
		p = spa.DefaultPort
	}
	t := spa.Transport{
		Proto:     proto,
		Dst:       netip.AddrPortFrom(server, p),
		SrcPort:   c.SourcePort,
		Host:      c.Server,
		UserAgent: c.UserAgent,
	}
	if c.SpoofSrc != "" {
		t.Src = netip.MustParseAddr(c.SpoofSrc)
	}
	return t, t.Validate()
}

// WaitPort returns the TCP port whose opening proves that fwknopd 2.6.10
// accepted the stanza's packet, or 0 when there is none to check before
// sending: see [spa.Request.WaitPort]. With NAT_RAND_PORT the port is
// drawn for every packet; take spa.Packet.WaitPort after encoding.
func (c *Config) WaitPort() uint16 {
	r, err := c.Request(netip.IPv4Unspecified())
	if err != nil {
		return 0
	}
	return r.WaitPort()
}

// Options returns the stanza as a request of knock's SPA client: keys,
// request and transport settings as fwknop's client would send them.
// With USE_GPG the GPG keys are not read here: set o.GPG from
// [Config.GPGOptions]. Errors name the line, never a key.
func (c *Config) Options() (spa.Options, error) {
	keys, err := c.Keys()
	if err != nil {
		return spa.Options{}, err
	}
	o := spa.Options{
		AllowIP:     c.AllowIP,
		FWTimeout:   c.FWTimeout,
		NAT:         c.NATAccess,
		NATLocal:    c.NATLocal,
		User:        c.SpoofUser,
		Digest:      c.Digest,
		TimeOffset:  c.TimeOffset,
		Proto:       c.Proto,
		Port:        c.ServerPort,
		RandPort:    c.RandPort,
		SourcePort:  c.SourcePort,
		SpoofSource: c.SpoofSrc,
		UserAgent:   c.UserAgent,
		Keys:        keys,
	}
	if c.Access != "" {
		acc, err := spa.ParseAccess(c.Access)
		if err != nil {
			return spa.Options{}, c.varErr("ACCESS", err)
		}
		for _, a := range acc {
			o.Access = append(o.Access, a.String())
		}
	}
	if c.Resolve {
		o.AllowIP, o.ResolveURL, o.HTTPOnly = spa.AllowResolve, c.ResolveURL, c.HTTPOnly
	}
	// fwknop's client uses the NAT ports only with NAT access.
	if c.NATAccess != "" || c.NATLocal {
		o.NATPort, o.NATRand = c.NATPort, c.NATRand
		if o.NATRand {
			o.NATPort = 0
		}
	}
	return o, nil
}

// GPGOptions picks the stanza's GPG_RECIPIENT and GPG_SIGNER from an
// exported keyring (knock reads no GnuPG home: GPG_HOMEDIR is not used)
// and returns them as a request carries them: a keyring holding only
// those two keys, and the signing passphrase (GPG_SIGNING_PW, or KEY as
// fwknop reads it with USE_GPG). It checks that the signer's key
// unlocks.
func (c *Config) GPGOptions(ring *spa.GPGKeyring) (*spa.GPGOptions, error) {
	if !c.UseGPG {
		return nil, fmt.Errorf("%w: the stanza does not set USE_GPG Y", spa.ErrGPG)
	}
	exported, err := ring.Export(c.GPGRecipient, c.GPGSigner)
	if err != nil {
		return nil, err
	}
	g := &spa.GPGOptions{Recipient: c.GPGRecipient, Signer: c.GPGSigner, Keyring: exported}
	if c.GPGSigningPW != "" {
		g.SigningPW = []byte(c.GPGSigningPW)
	}
	if _, err := ring.Keys(c.GPGRecipient, c.GPGSigner, g.SigningPW); err != nil {
		return nil, err
	}
	return g, nil
}
