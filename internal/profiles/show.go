package profiles

import (
	"fmt"
	"strconv"
	"strings"
)

// Row is one line of a profile's description: a field and its value.
type Row struct{ Field, Value string }

// Rows describes p field by field for knock profile show. Secrets (the
// sequences, keys, the GPG keyring and passphrase, the one-time secret)
// read "(hidden ...)" unless reveal; everything else is shown, with the
// default a field falls back to when it is not set.
func (p *Profile) Rows(store StoreName, reveal bool) []Row {
	var rows []Row
	row := func(k, v string) { rows = append(rows, Row{k, v}) }
	opt := func(k, v string) {
		if v != "" && v != "0" && v != "false" {
			row(k, v)
		}
	}
	or := func(s, d string) string {
		if s == "" {
			return d
		}
		return s
	}
	secret := func(s string) string {
		switch {
		case s == "":
			return "(none)"
		case reveal:
			return s
		}
		return "(hidden; --reveal shows it)"
	}
	sequence := func(s string) string {
		if s == "" || reveal {
			return secret(s)
		}
		return fmt.Sprintf("(hidden: %d knocks; --reveal shows it)", strings.Count(s, ",")+1)
	}
	row("name", p.Name)
	row("kind", string(p.EffectiveKind()))
	row("store", string(store))
	row("host", or(p.Host, "(the name, through ssh_config)"))
	if p.Open != "" || p.EffectiveKind() == KindSequence {
		row("open", sequence(p.Open))
		row("close", sequence(p.Close))
		row("tcp-flags", or(p.TCPFlags, "(plain SYN)"))
		row("delay", fmt.Sprintf("%d ms", p.DelayMS))
		row("method", or(p.Method, "auto"))
	}
	row("family", or(p.Family, "any"))
	if p.WaitPort != 0 {
		row("wait-port", strconv.Itoa(int(p.WaitPort)))
	} else {
		row("wait-port", "(ssh Port of a Host entry, else none)")
	}
	opt("seq-timeout", seconds(p.SeqTimeout))
	if s := p.SPA; s != nil {
		if s.GPGRecipient != "" {
			row("spa-gpg-recipient", s.GPGRecipient)
			opt("spa-gpg-signer", s.GPGSigner)
			row("spa-gpg-keyring", secret(fmt.Sprintf("%d bytes", len(s.GPGKeyring))))
			if len(s.GPGSigningPW) > 0 {
				row("spa-gpg-signing-pw", secret(string(s.GPGSigningPW)))
			}
		} else {
			row("spa-key", secret(s.KeyBase64))
		}
		row("spa-hmac-key", secret(s.HMACKeyBase64))
		opt("spa-hmac-digest", s.HMACDigest)
		opt("spa-digest", s.Digest)
		opt("spa-encryption-mode", s.Mode)
		opt("spa-access", strings.Join(s.Access, ","))
		opt("spa-server-cmd", s.Command)
		opt("spa-allow-ip", s.AllowIP)
		opt("spa-resolve-url", s.ResolveURL)
		opt("spa-fw-timeout", seconds(s.FWTimeout))
		opt("spa-time-offset", seconds(s.TimeOffset))
		opt("spa-nat-access", s.NATAccess)
		opt("spa-nat-local", strconv.FormatBool(s.NATLocal))
		opt("spa-nat-port", strconv.Itoa(int(s.NATPort)))
		opt("spa-nat-rand-port", strconv.FormatBool(s.NATRandPort))
		opt("spa-user", s.User)
		opt("spa-proto", s.Proto)
		opt("spa-server-port", strconv.Itoa(int(s.ServerPort)))
		opt("spa-rand-port", strconv.FormatBool(s.RandPort))
		opt("spa-source-port", strconv.Itoa(int(s.SourcePort)))
		opt("spa-spoof-source", s.SpoofSource)
		opt("spa-user-agent", s.UserAgent)
	}
	if o := p.OTP; o != nil {
		hex := ""
		if len(o.Secret) > 0 {
			hex = fmt.Sprintf("%x", o.Secret)
		}
		row("otp-secret", secret(hex))
		row("otp-counter", strconv.FormatUint(o.Counter, 10))
		row("otp-ports", fmt.Sprintf("%d-%d", o.PortLo, o.PortHi))
	}
	opt("forwards", strings.Join(p.Forwards, " "))
	opt("notes", strings.ReplaceAll(p.Notes, "\n", " "))
	return rows
}

func seconds(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n) + " s"
}
