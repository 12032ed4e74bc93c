package profiles

import (
	"fmt"
	"strings"

	"github.com/a-knock/knock/internal/exit"
	"github.com/a-knock/knock/internal/otp"
)

// Params checks a one-time profile's stored configuration and returns
// its derivation parameters.
func (c *OTPConfig) Params() (otp.Params, error) {
	p := otp.Params{Length: c.Length, PortLo: c.PortLo, PortHi: c.PortHi, Mode: otp.Mode(strings.ToLower(c.Proto))}
	if err := p.Validate(); err != nil {
		return p, err
	}
	if len(c.Secret) < otp.MinSecretSize {
		return p, otp.ErrSecret
	}
	return p, nil
}

// OTPConfigOf returns p's one-time settings, or an error when p is not a
// one-time profile.
func OTPConfigOf(p *Profile) (*OTPConfig, error) {
	if p.EffectiveKind() != KindOTP || p.OTP == nil {
		return nil, fmt.Errorf("%w: profile %q is not a one-time profile (kind %s); see knock otp init", ErrInvalid, p.Name, p.EffectiveKind())
	}
	return p.OTP, nil
}

// NewOTPConfig makes a one-time generator: a fresh random secret, counter
// 0, and the parameters given as on the command line (ports "LO-HI",
// proto tcp, udp or mixed). Bad parameters are bad input.
func NewOTPConfig(length int, ports, proto string) (*OTPConfig, error) {
	p := otp.DefaultParams()
	p.Length = length
	var err error
	if ports != "" {
		if p.PortLo, p.PortHi, err = otp.ParsePortRange(ports); err != nil {
			return nil, exit.Usage(err)
		}
	}
	if p.Mode, err = otp.ParseMode(proto); err != nil {
		return nil, exit.Usage(err)
	}
	if err := p.Validate(); err != nil {
		return nil, exit.Usage(err)
	}
	secret, err := otp.NewSecret()
	if err != nil {
		return nil, err
	}
	return &OTPConfig{Secret: secret, Length: p.Length, PortLo: p.PortLo, PortHi: p.PortHi, Proto: string(p.Mode)}, nil
}
