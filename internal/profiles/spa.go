package profiles

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/a-knock/knock/internal/spa"
)

// MaxGPGKeyring bounds the GPG keys a profile keeps: two RSA-4096 keys,
// one with its private part, take about 8 KiB.
const MaxGPGKeyring = 16 << 10

// NewSPAConfig returns what a profile keeps of an SPA request: every
// option, the keys base64-encoded, the GPG keys as o.GPG carries them
// (o.Keys.GPG, parsed keys, is not kept: give the keyring in o.GPG).
func NewSPAConfig(o spa.Options) *SPAConfig {
	c := &SPAConfig{
		Access:      append([]string(nil), o.Access...),
		AllowIP:     o.AllowIP,
		ResolveURL:  o.ResolveURL,
		HTTPOnly:    o.HTTPOnly,
		FWTimeout:   o.FWTimeout,
		TimeOffset:  int(o.TimeOffset / time.Second),
		NATAccess:   o.NAT,
		NATLocal:    o.NATLocal,
		NATPort:     o.NATPort,
		NATRandPort: o.NATRand,
		Command:     o.Command,
		User:        o.User,
		RandPort:    o.RandPort,
		Proto:       o.Proto,
		SourcePort:  o.SourcePort,
		SpoofSource: o.SpoofSource,
		UserAgent:   o.UserAgent,
		ICMPType:    o.ICMPType,
		ICMPCode:    o.ICMPCode,
	}
	if len(o.Keys.Enc) > 0 || len(o.Keys.HMAC) > 0 {
		k, h := o.Keys.Base64()
		if len(o.Keys.Enc) > 0 {
			c.KeyBase64 = k
		}
		c.HMACKeyBase64, c.UseHMAC = h, h != ""
	}
	if o.Keys.HMACDigest != spa.DigestSHA256 {
		c.HMACDigest = o.Keys.HMACDigest.String()
	}
	if o.Keys.Mode != spa.ModeCBC {
		c.Mode = o.Keys.Mode.String()
	}
	if o.Digest != spa.DigestSHA256 {
		c.Digest = o.Digest.String()
	}
	if o.Port != spa.DefaultPort {
		c.ServerPort = o.Port
	}
	if g := o.GPG; g != nil {
		c.GPGRecipient, c.GPGSigner = g.Recipient, g.Signer
		c.GPGKeyring = append([]byte(nil), g.Keyring...)
		c.GPGSigningPW = append([]byte(nil), g.SigningPW...)
	}
	return c
}

// GPG reports whether the profile encrypts with GPG.
func (c *SPAConfig) GPG() bool { return c.GPGRecipient != "" }

// Options returns the SPA request the profile keeps. An HMAC key is used
// whenever there is one; USE_HMAC without one is an error. Errors never
// quote a key.
func (c *SPAConfig) Options() (spa.Options, error) {
	if err := c.validate(); err != nil {
		return spa.Options{}, err
	}
	o := spa.Options{
		Access:      append([]string(nil), c.Access...),
		AllowIP:     c.AllowIP,
		ResolveURL:  c.ResolveURL,
		HTTPOnly:    c.HTTPOnly,
		FWTimeout:   c.FWTimeout,
		NAT:         c.NATAccess,
		NATLocal:    c.NATLocal,
		NATPort:     c.NATPort,
		NATRand:     c.NATRandPort,
		Command:     c.Command,
		User:        c.User,
		TimeOffset:  time.Duration(c.TimeOffset) * time.Second,
		Port:        c.ServerPort,
		RandPort:    c.RandPort,
		Proto:       c.Proto,
		SourcePort:  c.SourcePort,
		SpoofSource: c.SpoofSource,
		UserAgent:   c.UserAgent,
		ICMPType:    c.ICMPType,
		ICMPCode:    c.ICMPCode,
	}
	var err error
	if o.Keys, err = c.keys(); err != nil {
		return spa.Options{}, err
	}
	// validate checked the names.
	o.Digest, _ = spa.ParseDigest(c.Digest)
	if c.GPG() {
		o.GPG = &spa.GPGOptions{
			Recipient: c.GPGRecipient,
			Signer:    c.GPGSigner,
			Keyring:   append([]byte(nil), c.GPGKeyring...),
			SigningPW: append([]byte(nil), c.GPGSigningPW...),
		}
	}
	return o, nil
}

// keys decodes and checks the keys, digest and mode.
func (c *SPAConfig) keys() (spa.Keys, error) {
	var k spa.Keys
	var err error
	if c.UseHMAC && c.HMACKeyBase64 == "" {
		return k, fmt.Errorf("%w: USE_HMAC is set but HMAC_KEY_BASE64 is missing", spa.ErrBadKey)
	}
	if c.GPG() {
		if c.KeyBase64 != "" {
			return k, fmt.Errorf("%w: KEY_BASE64 is set for a GPG profile", spa.ErrBadKey)
		}
		if c.HMACKeyBase64 != "" {
			if k.HMAC, err = spa.DecodeKey("HMAC_KEY_BASE64", c.HMACKeyBase64); err != nil {
				return k, err
			}
		}
		// The GPG keys stand for the Rijndael key in the check.
		k.GPG = &spa.GPGKeys{}
		err = k.Validate()
		k.GPG = nil
	} else {
		k, err = spa.ParseKeys(c.KeyBase64, c.HMACKeyBase64)
	}
	if err != nil {
		return spa.Keys{}, err
	}
	if k.HMACDigest, err = spa.ParseDigest(c.HMACDigest); err != nil {
		return spa.Keys{}, fmt.Errorf("HMAC digest: %w", err)
	}
	if k.Mode, err = spa.ParseMode(c.Mode); err != nil {
		return spa.Keys{}, err
	}
	if k.Mode == spa.ModeLegacy && (len(k.HMAC) > 0 || c.GPG()) {
		return spa.Keys{}, fmt.Errorf("%w: legacy encryption mode works without HMAC and GPG only (as in fwknop)", spa.ErrBadMode)
	}
	return k, nil
}

// validate checks every field's syntax without building a packet (which
// would unlock GPG keys and draw random ports): what a stored record must
// hold. Messages name the field, never a key.
func (c *SPAConfig) validate() error {
	if _, err := c.keys(); err != nil {
		return err
	}
	if _, err := spa.ParseDigest(c.Digest); err != nil {
		return fmt.Errorf("message digest: %w", err)
	}
	if c.Command != "" {
		if err := (spa.Request{Command: c.Command}).Validate(); err != nil {
			return err
		}
		if len(c.Access) > 0 || c.NATAccess != "" || c.NATLocal || c.NATPort != 0 || c.NATRandPort {
			return fmt.Errorf("%w: a server command goes without ports and NAT", spa.ErrBadCommand)
		}
	} else if _, err := spa.ParseAccess(c.Access...); err != nil {
		return err
	}
	switch a := strings.ToLower(c.AllowIP); a {
	case spa.AllowResolve:
		if c.ResolveURL != "" {
			u, err := url.Parse(c.ResolveURL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("%w: resolve URL %q: want http://host/path or https://host/path", spa.ErrBadAllowIP, c.ResolveURL)
			}
		}
	default:
		if _, err := spa.ParseAllowIP(c.AllowIP); err != nil {
			return err
		}
		if c.ResolveURL != "" || c.HTTPOnly {
			return fmt.Errorf("%w %q: a resolve URL needs the allow IP resolve", spa.ErrBadAllowIP, c.AllowIP)
		}
	}
	if c.FWTimeout < 0 || c.FWTimeout > 1<<31-1 {
		return fmt.Errorf("%w %d: want seconds >= 0", spa.ErrBadTimeout, c.FWTimeout)
	}
	if c.TimeOffset < -366*86400 || c.TimeOffset > 366*86400 {
		return fmt.Errorf("time offset %d s out of range (at most a year)", c.TimeOffset)
	}
	if c.NATAccess != "" {
		if _, err := spa.ParseNATAccess(c.NATAccess); err != nil {
			return err
		}
	}
	if (c.NATPort != 0 || c.NATRandPort) && c.NATAccess == "" && !c.NATLocal {
		return fmt.Errorf("%w: a NAT port needs NAT access", spa.ErrBadNAT)
	}
	if c.User != "" {
		if err := spa.ValidUser(c.User); err != nil {
			return err
		}
	}
	p, err := spa.ParseProto(c.Proto)
	if err != nil {
		return err
	}
	if c.SpoofSource != "" {
		a, err := netip.ParseAddr(c.SpoofSource)
		if err != nil || !a.Is4() || !p.Raw() {
			return fmt.Errorf("%w: spoofed source %q: want an IPv4 address and a raw transport (udpraw, tcpraw or icmp)", spa.ErrBadProto, c.SpoofSource)
		}
	}
	if (c.ICMPType != 0 || c.ICMPCode != 0) && p != spa.ICMP {
		return fmt.Errorf("%w: an ICMP type or code needs the icmp transport", spa.ErrBadProto)
	}
	for i := 0; i < len(c.UserAgent); i++ {
		if c.UserAgent[i] < 0x20 || c.UserAgent[i] > 0x7e || len(c.UserAgent) > 128 {
			return fmt.Errorf("%w: the HTTP user agent must be at most 128 printable characters", spa.ErrBadProto)
		}
	}
	if c.GPG() {
		if len(c.GPGKeyring) == 0 {
			return fmt.Errorf("%w: GPG recipient %q without the keys", spa.ErrGPG, c.GPGRecipient)
		}
		if len(c.GPGKeyring) > MaxGPGKeyring {
			return fmt.Errorf("%w: the GPG keys take %d bytes, a profile keeps at most %d", spa.ErrGPG, len(c.GPGKeyring), MaxGPGKeyring)
		}
	} else if c.GPGSigner != "" || len(c.GPGKeyring) > 0 || len(c.GPGSigningPW) > 0 {
		return fmt.Errorf("%w: GPG keys without a recipient", spa.ErrGPG)
	}
	if len(c.GPGSigningPW) > 1024 {
		return fmt.Errorf("%w: the signing passphrase is longer than 1024 bytes", spa.ErrGPG)
	}
	return nil
}
