package profiles

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/a-knock/knock/internal/fwknoprc"
	"github.com/a-knock/knock/internal/spa"
)

// importFwknoprc turns each named stanza of an fwknoprc into an SPA
// profile, [default] applied first. A stanza using something knock cannot
// send (GPG, another digest, HTTP address resolution ...) is not imported
// and a warning names each such line; malformed values fail the import
// with file:line.
func importFwknoprc(file string, data []byte, _ ImportOptions) ([]*Profile, []string, error) {
	f, err := fwknoprc.Parse(file, bytes.NewReader(data))
	if err != nil {
		return nil, nil, err
	}
	var ps []*Profile
	var warns []string
	warned := map[int]bool{}
	used := map[string]bool{}
	for _, st := range f.Named {
		c, err := f.Resolve(st.Name)
		if err != nil {
			return nil, nil, err
		}
		var fatal []string
		for _, is := range c.Issues {
			msg := fmt.Sprintf("%s:%d: %s: %s", file, is.Line, is.Name, is.Reason)
			if is.Fatal {
				fatal = append(fatal, msg)
			} else if !warned[is.Line] {
				warned[is.Line] = true
				warns = append(warns, msg)
			}
		}
		if len(fatal) > 0 {
			for _, m := range fatal {
				warns = append(warns, fmt.Sprintf("%s; stanza [%s] not imported", m, st.Name))
			}
			continue
		}
		p, skip, err := stanzaProfile(file, st, c, used)
		if err != nil {
			return nil, nil, err
		}
		if skip != "" {
			warns = append(warns, skip)
			continue
		}
		used[p.Name] = true
		ps = append(ps, p)
	}
	if len(ps) == 0 && len(warns) == 0 {
		warns = append(warns, fmt.Sprintf("%s: no named stanzas", file))
	}
	return ps, warns, nil
}

// stanzaProfile converts one resolved stanza. It returns a warning instead
// of a profile when the stanza lacks what an SPA packet needs, and an
// error naming file:line for a malformed value.
func stanzaProfile(file string, st *fwknoprc.Stanza, c *fwknoprc.Config, used map[string]bool) (*Profile, string, error) {
	at := func(name string) string {
		if l, ok := c.Lines[name]; ok {
			return fmt.Sprintf("%s:%d", file, l)
		}
		return fmt.Sprintf("%s:%d", file, st.Line)
	}
	bad := func(name string, err error) error {
		return fmt.Errorf("%s: stanza [%s]: %w", at(name), st.Name, err)
	}
	skip := func(format string, args ...any) string {
		return fmt.Sprintf("%s:%d: stanza [%s]: %s; not imported", file, st.Line, st.Name, fmt.Sprintf(format, args...))
	}
	// Keys: the base64 form wins, as in fwknop.
	keyName, key := "KEY_BASE64", []byte(nil)
	var err error
	switch {
	case c.KeyBase64 != "":
		if key, err = spa.DecodeKey("KEY_BASE64", c.KeyBase64); err != nil {
			return nil, "", bad("KEY_BASE64", err)
		}
	case c.Key != "":
		keyName, key = "KEY", []byte(c.Key)
	default:
		return nil, skip("no KEY_BASE64 or KEY (fwknop would prompt for it; knock needs it in the stanza)"), nil
	}
	hmacName, hmacKey := "HMAC_KEY_BASE64", []byte(nil)
	switch {
	case c.HMACKeyBase64 != "":
		if hmacKey, err = spa.DecodeKey("HMAC_KEY_BASE64", c.HMACKeyBase64); err != nil {
			return nil, "", bad("HMAC_KEY_BASE64", err)
		}
	case c.HMACKey != "":
		hmacName, hmacKey = "HMAC_KEY", []byte(c.HMACKey)
	case c.UseHMAC:
		return nil, skip("USE_HMAC is Y but there is no HMAC_KEY_BASE64 or HMAC_KEY"), nil
	}
	if c.UseHMACSet && !c.UseHMAC && hmacKey != nil {
		// fwknop sends no HMAC with USE_HMAC N, whatever the key.
		hmacKey = nil
	}
	keys := spa.Keys{Enc: key, HMAC: hmacKey}
	if err := keys.ValidateAs(keyName, hmacName); err != nil {
		name := keyName
		if len(key) <= spa.MaxKeyLen {
			name = hmacName
		}
		return nil, "", bad(name, err)
	}
	if c.Access == "" {
		return nil, skip("no ACCESS (such as tcp/22)"), nil
	}
	acc, err := spa.ParseAccess(c.Access)
	if err != nil {
		return nil, "", bad("ACCESS", err)
	}
	allow := c.AllowIP
	if allow == "" {
		allow = "source"
	}
	if _, err := spa.ParseAllowIP(allow); err != nil {
		return nil, "", bad("ALLOW_IP", err)
	}
	if _, err := spa.ParseProto(c.Proto); err != nil {
		return nil, "", bad("SPA_SERVER_PROTO", err)
	}
	var nat *spa.NAT
	if c.NATAccess != "" {
		if nat, err = spa.ParseNAT(c.NATAccess); err != nil {
			return nil, "", bad("NAT_ACCESS", err)
		}
	}
	if c.SpoofUser != "" {
		if err := spa.ValidUser(c.SpoofUser); err != nil {
			return nil, "", bad("SPOOF_USER", err)
		}
	}
	sc := NewSPAConfig(spa.Options{
		Access:     nil,
		AllowIP:    allow,
		Port:       c.ServerPort,
		Proto:      c.Proto,
		FWTimeout:  c.FWTimeout,
		TimeOffset: c.TimeOffset,
		NAT:        c.NATAccess,
		User:       c.SpoofUser,
		Keys:       keys,
	})
	sc.ServerPort = c.ServerPort
	for _, a := range acc {
		sc.Access = append(sc.Access, a.String())
	}
	p := &Profile{
		Name: spaProfileName(st.Name, used),
		Kind: KindSPA,
		Host: c.Server,
		// fwknopd 2.6 sniffs IPv4 only: knock, ssh and proxy use IPv4.
		Family: "inet",
		SPA:    sc,
		Notes:  fmt.Sprintf("imported from %s [%s]", file, st.Name),
	}
	// The first TCP port asked for proves that the door opened (through
	// NAT, the forwarded port).
	p.WaitPort = spa.WaitPort(spa.Request{Access: acc, NAT: nat})
	if p.WaitPort != 0 {
		p.Notes += fmt.Sprintf("; wait port %d from its ACCESS", p.WaitPort)
	}
	// Check the whole request once, so that a packet fwknopd would take for
	// GPG is reported at import.
	if _, err := new(spa.Encoder).Encode(spa.Request{Access: acc, ClientTimeout: c.FWTimeout, NAT: nat}, keys); err != nil {
		return nil, "", bad("ACCESS", err)
	}
	return p, "", nil
}

// spaProfileName makes a valid, unused profile name from a stanza name.
func spaProfileName(stanza string, used map[string]bool) string {
	var b strings.Builder
	for _, r := range strings.ToLower(stanza) {
		if r < 0x80 && (r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("._-@", r)) {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	name := strings.Trim(b.String(), "-._@")
	if len(name) > MaxNameLen-8 {
		name = name[:MaxNameLen-8]
	}
	if ValidName(name) != nil {
		name = "spa-" + name
	}
	base := name
	for i := 2; used[name]; i++ {
		name = base + "-" + strconv.Itoa(i)
	}
	return name
}
