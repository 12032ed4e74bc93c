package fwknoprc

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/a-knock/knock/internal/spa"
)

// Config is a resolved stanza: [default], then the named stanza on top,
// every line applied in order as fwknop's client applies them. Key and
// passphrase fields hold secrets; callers must not print them.
type Config struct {
	Stanza string

	Server     string // SPA_SERVER, as written (a name or an address)
	ServerPort uint16 // SPA_SERVER_PORT; 0 when unset (fwknop: 62201)
	SourcePort uint16 // SPA_SOURCE_PORT; 0 when unset
	Proto      string // SPA_SERVER_PROTO, lower case; "" when unset (udp)
	Access     string // ACCESS, such as "tcp/22,udp/53"
	AllowIP    string // ALLOW_IP: an IPv4 address or "source"; "" with resolve or unset
	Resolve    bool   // resolve the external address: ALLOW_IP resolve, RESOLVE_IP_HTTP(S) Y or RESOLVE_URL, and no address
	ResolveURL string // RESOLVE_URL; "" means spa.DefaultResolveURL
	HTTPOnly   bool   // RESOLVE_HTTP_ONLY Y: resolve over plain HTTP
	UserAgent  string // HTTP_USER_AGENT
	NATAccess  string // NAT_ACCESS "internalIP[,port]"
	NATLocal   bool   // NAT_LOCAL Y
	NATPort    uint16 // NAT_PORT; 0 when unset
	NATRand    bool   // NAT_RAND_PORT Y
	RandPort   bool   // RAND_PORT Y: a random server port for every packet
	SpoofUser  string // SPOOF_USER
	SpoofSrc   string // SPOOF_SOURCE_IP, an IPv4 address (raw transports only)
	FWTimeout  int    // FW_TIMEOUT seconds; 0 when unset
	TimeOffset time.Duration

	Digest     spa.Digest // DIGEST_TYPE
	HMACDigest spa.Digest // HMAC_DIGEST_TYPE
	Mode       spa.Mode   // ENCRYPTION_MODE

	Key, KeyBase64         string // KEY, KEY_BASE64 (secret)
	HMACKey, HMACKeyBase64 string // HMAC_KEY, HMAC_KEY_BASE64 (secret)
	// UseHMAC is set by USE_HMAC Y, and by any HMAC key line, as in
	// fwknop's client. A packet carries an HMAC whenever the stanza has
	// an HMAC key, even after USE_HMAC N; USE_HMAC Y without a key means
	// fwknop would prompt for one.
	UseHMAC    bool
	UseHMACSet bool // USE_HMAC appeared

	UseGPG         bool   // USE_GPG Y
	UseGPGAgent    bool   // USE_GPG_AGENT Y (knock talks to no gpg-agent)
	GPGRecipient   string // GPG_RECIPIENT: the server's key
	GPGSigner      string // GPG_SIGNER: the client's key
	GPGHomeDir     string // GPG_HOMEDIR (a gpg directory; knock reads exported keyrings)
	GPGSigningPW   string // with USE_GPG: GPG_SIGNING_PW (or KEY), else GPG_SIGNING_PW_BASE64 (or KEY_BASE64) decoded (secret)
	GPGNoSigningPW bool   // GPG_NO_SIGNING_PW Y

	// Issues names every setting knock does not honour, in line order.
	Issues []Issue
	// Lines maps each variable that took effect to its (last) line.
	Lines map[string]int
}

// Issue is a setting that knock cannot honour.
type Issue struct {
	Line   int
	Name   string
	Reason string
	// Fatal is set when ignoring the setting would send a packet the
	// user did not ask for, or when fwknop's client itself would refuse
	// the stanza (an unknown variable). Other issues change nothing in
	// the packet and are warnings.
	Fatal bool
}

// String renders the issue as "line N: NAME: reason".
func (i Issue) String() string { return fmt.Sprintf("line %d: %s: %s", i.Line, i.Name, i.Reason) }

// benign settings change nothing in the packet knock sends.
var benign = map[string]string{
	"NO_SAVE_ARGS":        "only affects fwknop's saved command line",
	"VERBOSE":             "use knock -v",
	"WGET_CMD":            "knock resolves the external address itself, without wget",
	"USE_WGET_USER_AGENT": "knock resolves the external address itself, without wget",
	"SERVER_RESOLVE_IPV4": "knock always resolves the server to IPv4 for SPA",
	"GPG_EXE":             "knock uses no gpg binary; it reads exported keyrings",
}

// unsupported settings would change the packet or its route.
var unsupported = map[string]string{
	"KEY_FILE":      "keys are read from the stanza, not from a key file; put KEY_BASE64 in the stanza",
	"HMAC_KEY_FILE": "keys are read from the stanza, not from a key file; put HMAC_KEY_BASE64 in the stanza",
}

// variables are the names of fwknop 2.6.10's client (client/config_init.c),
// matched case-sensitively as fwknop does.
var variables = []string{
	"DIGEST_TYPE", "SPA_SERVER_PROTO", "SPA_SERVER_PORT", "SPA_SOURCE_PORT", "FW_TIMEOUT",
	"ALLOW_IP", "TIME_OFFSET", "ENCRYPTION_MODE", "USE_GPG", "USE_GPG_AGENT", "GPG_RECIPIENT",
	"GPG_SIGNER", "GPG_HOMEDIR", "GPG_EXE", "GPG_SIGNING_PW", "GPG_SIGNING_PW_BASE64",
	"GPG_NO_SIGNING_PW", "SPOOF_USER", "SPOOF_SOURCE_IP", "ACCESS", "SPA_SERVER", "RAND_PORT",
	"KEY", "KEY_BASE64", "HMAC_DIGEST_TYPE", "HMAC_KEY_BASE64", "HMAC_KEY", "USE_HMAC",
	"USE_WGET_USER_AGENT", "KEY_FILE", "HMAC_KEY_FILE", "NAT_ACCESS", "HTTP_USER_AGENT",
	"RESOLVE_URL", "SERVER_RESOLVE_IPV4", "NAT_LOCAL", "NAT_RAND_PORT", "NAT_PORT", "VERBOSE",
	"RESOLVE_IP_HTTP", "RESOLVE_IP_HTTPS", "RESOLVE_HTTP_ONLY", "WGET_CMD", "NO_SAVE_ARGS",
}

// known reports whether name is a variable of fwknop's client.
func known(name string) bool {
	for _, v := range variables {
		if v == name {
			return true
		}
	}
	return false
}

// Resolve applies [default] and then the named stanza and interprets the
// result, as fwknop's client does with -n NAME; the name is matched
// ignoring case. Resolve(DefaultStanza) reads [default] alone, what
// fwknop does without -n. Malformed values and combinations fwknop's
// client refuses are errors naming file:line; settings knock cannot
// honour are collected in Config.Issues.
func (f *File) Resolve(name string) (*Config, error) {
	var vars []Var
	if f.Default != nil {
		vars = append(vars, f.Default.Vars...)
	}
	if !strings.EqualFold(name, DefaultStanza) {
		st := f.Stanza(name)
		if st == nil {
			return nil, fmt.Errorf("%s: %w [%s]", f.Path, ErrNoStanza, name)
		}
		vars = append(vars, st.Vars...)
	} else if f.Default == nil {
		return nil, fmt.Errorf("%s: %w [%s]", f.Path, ErrNoStanza, name)
	}
	c := &Config{Stanza: name, Lines: map[string]int{}}
	st := &state{}
	for _, v := range vars {
		c.Lines[v.Name] = v.Line
		if err := c.set(v, st); err != nil {
			return nil, fmt.Errorf("%s:%d: %s: %w", f.Path, v.Line, v.Name, err)
		}
	}
	if err := c.finish(st); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", f.Path, err.line, err.err)
	}
	return c, nil
}

// state is what set keeps between lines, as fwknop's option struct does.
type state struct {
	resolveFlag bool   // resolve_ip_http_https
	allowIP     string // allow_ip_str
}

func (c *Config) issue(v Var, fatal bool, format string, args ...any) {
	c.Issues = append(c.Issues, Issue{Line: v.Line, Name: v.Name, Reason: fmt.Sprintf(format, args...), Fatal: fatal})
}

func port(val string, zeroOK bool) (uint16, error) {
	n, err := strconv.ParseUint(val, 10, 16)
	if err != nil || (n == 0 && !zeroOK) {
		return 0, fmt.Errorf("invalid port %q (want 1..65535)", val)
	}
	return uint16(n), nil
}

// set applies one variable.
func (c *Config) set(v Var, st *state) error {
	val := v.Value
	var err error
	switch v.Name {
	case "SPA_SERVER":
		c.Server = val
	case "SPA_SERVER_PORT":
		c.ServerPort, err = port(val, false)
	case "SPA_SOURCE_PORT":
		c.SourcePort, err = port(val, true)
	case "SPA_SERVER_PROTO":
		p, perr := spa.ParseProto(val)
		if perr != nil {
			return fmt.Errorf("invalid protocol %q (want udp, tcp, http, udpraw, tcpraw or icmp)", val)
		}
		c.Proto = string(p)
	case "ACCESS":
		c.Access = val
	case "ALLOW_IP":
		// As in fwknop, "resolve" does not forget an address set
		// before (say in [default]), and an address wins over
		// resolving (validate_options).
		st.resolveFlag = false
		switch {
		case strings.EqualFold(val, "source"):
			st.allowIP = "source"
		case strings.EqualFold(val, "resolve"):
			st.resolveFlag = true
		default:
			a, perr := netip.ParseAddr(val)
			if perr != nil || !a.Is4() {
				return fmt.Errorf("invalid address %q (want an IPv4 address, source or resolve)", val)
			}
			st.allowIP = a.String()
		}
	case "RESOLVE_IP_HTTPS", "RESOLVE_IP_HTTP":
		if yes(val) {
			st.resolveFlag = true
		}
	case "RESOLVE_HTTP_ONLY":
		if yes(val) {
			c.HTTPOnly = true
		}
	case "RESOLVE_URL":
		c.ResolveURL = val
	case "HTTP_USER_AGENT":
		c.UserAgent = val
	case "NAT_ACCESS":
		if _, perr := spa.ParseNATAccess(val); perr != nil {
			return perr
		}
		c.NATAccess = val
	case "NAT_LOCAL":
		c.NATLocal = c.NATLocal || yes(val)
	case "NAT_RAND_PORT":
		c.NATRand = c.NATRand || yes(val)
	case "RAND_PORT":
		c.RandPort = c.RandPort || yes(val)
	case "NAT_PORT":
		c.NATPort, err = port(val, true)
	case "SPOOF_USER":
		if uerr := spa.ValidUser(val); uerr != nil {
			return uerr
		}
		c.SpoofUser = val
	case "SPOOF_SOURCE_IP":
		a, perr := netip.ParseAddr(val)
		if perr != nil || !a.Is4() {
			return fmt.Errorf("invalid spoofed source %q (want an IPv4 address)", val)
		}
		c.SpoofSrc = a.String()
	case "FW_TIMEOUT":
		n, perr := strconv.Atoi(val)
		if perr != nil || n < 0 || n > 2<<15 {
			return fmt.Errorf("invalid timeout %q (want seconds 0..%d)", val, 2<<15)
		}
		c.FWTimeout = n
	case "TIME_OFFSET":
		c.TimeOffset, err = ParseOffset(val)
	case "DIGEST_TYPE":
		c.Digest, err = spa.ParseDigest(val)
	case "HMAC_DIGEST_TYPE":
		c.HMACDigest, err = spa.ParseDigest(val)
	case "ENCRYPTION_MODE":
		m, merr := spa.ParseMode(val)
		if merr != nil {
			switch strings.ToLower(val) {
			case "ecb", "cfb", "pcbc", "ofb", "ctr":
				c.issue(v, true, "encryption mode %q is not supported (cbc or legacy)", val)
				return nil
			case "asymmetric":
				// fwknop takes it as "GPG", which USE_GPG says anyway.
				return nil
			}
			return merr
		}
		c.Mode = m
	case "KEY", "GPG_SIGNING_PW":
		// fwknop keeps the signing passphrase where it keeps KEY.
		c.Key = val
	case "KEY_BASE64", "GPG_SIGNING_PW_BASE64":
		if !isBase64(val) {
			return fmt.Errorf("value is not base64")
		}
		c.KeyBase64 = val
	case "HMAC_KEY":
		c.HMACKey, c.UseHMAC = val, true
	case "HMAC_KEY_BASE64":
		if !isBase64(val) {
			return fmt.Errorf("value is not base64")
		}
		c.HMACKeyBase64, c.UseHMAC = val, true
	case "USE_HMAC":
		// Only Y counts: N does not undo an HMAC key (config_init.c).
		c.UseHMAC, c.UseHMACSet = c.UseHMAC || yes(val), true
	case "USE_GPG":
		c.UseGPG = c.UseGPG || yes(val)
	case "USE_GPG_AGENT":
		c.UseGPGAgent = c.UseGPGAgent || yes(val)
	case "GPG_NO_SIGNING_PW":
		c.GPGNoSigningPW = c.GPGNoSigningPW || yes(val)
	case "GPG_RECIPIENT":
		c.GPGRecipient = val
	case "GPG_SIGNER":
		c.GPGSigner = val
	case "GPG_HOMEDIR":
		c.GPGHomeDir = val
	default:
		if why, ok := benign[v.Name]; ok {
			c.issue(v, false, "ignored: %s", why)
		} else if why, ok := unsupported[v.Name]; ok {
			c.issue(v, true, "%s", why)
		} else if known(strings.ToUpper(v.Name)) {
			c.issue(v, true, "unknown variable; fwknop matches names case-sensitively, write %s", strings.ToUpper(v.Name))
		} else {
			c.issue(v, true, "unknown variable (fwknop's client refuses it too)")
		}
	}
	return err
}

// lineError is an error tied to a line.
type lineError struct {
	line int
	err  error
}

// finish applies fwknop's validate_options: the checks that involve more
// than one line.
func (c *Config) finish(st *state) *lineError {
	at := func(name string, format string, args ...any) *lineError {
		return &lineError{line: c.Lines[name], err: fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...))}
	}
	if c.ResolveURL != "" {
		st.resolveFlag = true
	}
	c.AllowIP = st.allowIP
	c.Resolve = st.resolveFlag && st.allowIP == ""
	if c.Resolve && c.HTTPOnly && strings.HasPrefix(strings.ToLower(c.ResolveURL), "https") {
		return at("RESOLVE_URL", "https is not supported with RESOLVE_HTTP_ONLY")
	}
	if c.UseGPG {
		// fwknop's get_keys: the plain value wins over the base64 one.
		if c.Key != "" {
			c.GPGSigningPW = c.Key
		} else if c.KeyBase64 != "" {
			b, _ := decodeB64(c.KeyBase64)
			c.GPGSigningPW = string(b)
		}
	}
	if c.SpoofSrc != "" {
		p, _ := spa.ParseProto(c.Proto)
		if !p.Raw() {
			return at("SPOOF_SOURCE_IP", "a spoofed source needs SPA_SERVER_PROTO udpraw, tcpraw or icmp (as in fwknop)")
		}
	}
	if c.UseGPG && c.GPGRecipient == "" {
		return at("USE_GPG", "GPG needs GPG_RECIPIENT (as in fwknop)")
	}
	if c.Mode == spa.ModeLegacy && c.UseHMAC && !c.UseGPG {
		return at("ENCRYPTION_MODE", "legacy encryption mode is incompatible with HMAC (as in fwknop)")
	}
	if c.UseGPG && c.UseGPGAgent && c.GPGSigner != "" && c.GPGSigningPW == "" && !c.GPGNoSigningPW {
		c.Issues = append(c.Issues, Issue{Line: c.Lines["USE_GPG_AGENT"], Name: "USE_GPG_AGENT",
			Reason: "knock talks to no gpg-agent; put the signing passphrase in GPG_SIGNING_PW (knock keeps it with the profile), or use a key without one"})
	}
	return nil
}

// yes is fwknop's boolean: only "Y" (either case) is true.
func yes(s string) bool { return strings.EqualFold(s, "y") }

// isBase64 checks the characters only, as fwknop's is_base64 does; the
// decoding is checked when the key is used.
func isBase64(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return s != ""
}

func decodeB64(s string) ([]byte, error) {
	return base64.RawStdEncoding.Strict().DecodeString(strings.TrimRight(s, "="))
}

// ParseOffset parses a TIME_OFFSET: seconds, optionally signed, or a
// number with a unit: s/sec, m/min, h/hour, d/day (singular or plural),
// such as "60sec", "-5min" or "2days".
func ParseOffset(s string) (time.Duration, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	neg := strings.HasPrefix(t, "-")
	t = strings.TrimLeft(t, "+-")
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	n, err := strconv.ParseInt(t[:i], 10, 32)
	if err != nil {
		return 0, fmt.Errorf("invalid time offset %q (want seconds, or a number with sec, min, hour or day)", s)
	}
	unit := time.Second
	if t[i:] == "ms" {
		return 0, fmt.Errorf("invalid time offset %q: milliseconds are too fine for a timestamp in seconds", s)
	}
	switch strings.TrimSuffix(t[i:], "s") {
	case "", "sec", "second":
	case "m", "min", "minute":
		unit = time.Minute
	case "h", "hour":
		unit = time.Hour
	case "d", "day":
		unit = 24 * time.Hour
	default:
		return 0, fmt.Errorf("invalid time offset %q: unknown unit %q (sec, min, hour or day)", s, t[i:])
	}
	d := time.Duration(n) * unit
	if neg {
		d = -d
	}
	return d, nil
}

// Fatal returns the issues that make the stanza unusable as it stands.
func (c *Config) Fatal() []Issue {
	var out []Issue
	for _, i := range c.Issues {
		if i.Fatal {
			out = append(out, i)
		}
	}
	return out
}
