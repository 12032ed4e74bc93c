package profiles

import (
	"fmt"
	"time"

	"github.com/a-knock/knock/internal/spa"
)

// NewSPAConfig returns what a profile keeps of an SPA request: every
// option, the keys base64-encoded.
func NewSPAConfig(o spa.Options) *SPAConfig {
	k, h := o.Keys.Base64()
	c := &SPAConfig{
		KeyBase64:     k,
		HMACKeyBase64: h,
		Access:        append([]string(nil), o.Access...),
		AllowIP:       o.AllowIP,
		Proto:         o.Proto,
		FWTimeout:     o.FWTimeout,
		TimeOffset:    int(o.TimeOffset / time.Second),
		UseHMAC:       h != "",
		NATAccess:     o.NAT,
		User:          o.User,
	}
	if o.Port != spa.DefaultPort {
		c.ServerPort = o.Port
	}
	return c
}

// Options returns the SPA request the profile keeps. An HMAC key is used
// whenever there is one; USE_HMAC without one is an error.
func (c *SPAConfig) Options() (spa.Options, error) {
	if c.UseHMAC && c.HMACKeyBase64 == "" {
		return spa.Options{}, fmt.Errorf("%w: USE_HMAC is set but HMAC_KEY_BASE64 is missing", spa.ErrBadKey)
	}
	keys, err := spa.ParseKeys(c.KeyBase64, c.HMACKeyBase64)
	if err != nil {
		return spa.Options{}, err
	}
	return spa.Options{
		Access:     append([]string(nil), c.Access...),
		AllowIP:    c.AllowIP,
		Port:       c.ServerPort,
		Proto:      c.Proto,
		FWTimeout:  c.FWTimeout,
		TimeOffset: time.Duration(c.TimeOffset) * time.Second,
		NAT:        c.NATAccess,
		User:       c.User,
		Keys:       keys,
	}, nil
}
