package fwknoprc

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Config is a resolved stanza: [default], then the named stanza on top.
// Key fields hold secrets; callers must not print them.
type Config struct {
	Stanza string

	Server     string // SPA_SERVER
	ServerPort uint16 // SPA_SERVER_PORT; 0 when unset
	Proto      string // SPA_SERVER_PROTO, lower case; "" when unset
	Access     string // ACCESS, such as "tcp/22,udp/53"
	AllowIP    string // ALLOW_IP: an address, a host name or "source"
	NATAccess  string // NAT_ACCESS "internalIP,port"
	SpoofUser  string // SPOOF_USER
	FWTimeout  int    // FW_TIMEOUT seconds; 0 when unset
	TimeOffset time.Duration

	Key, KeyBase64         string // KEY, KEY_BASE64 (secret)
	HMACKey, HMACKeyBase64 string // HMAC_KEY, HMAC_KEY_BASE64 (secret)
	UseHMAC                bool   // USE_HMAC Y
	UseHMACSet             bool   // USE_HMAC appeared

	// Issues names every setting knock does not honour, in line order.
	Issues []Issue
	// Lines maps each variable that took effect to its line number.
	Lines map[string]int
}

// Issue is a setting that knock cannot honour.
type Issue struct {
	Line   int
	Name   string
	Reason string
	// Fatal is set when ignoring the setting would send a packet the
	// user did not ask for (GPG, another digest, a spoofed source ...).
	// Other issues change nothing in the packet and are warnings.
	Fatal bool
}

// String renders the issue as "line N: NAME: reason".
func (i Issue) String() string { return fmt.Sprintf("line %d: %s: %s", i.Line, i.Name, i.Reason) }

// benign settings change nothing in the packet knock sends.
var benign = map[string]string{
	"NO_SAVE_ARGS":        "only affects fwknop's saved command line",
	"VERBOSE":             "use knock -v",
	"RESOLVE_URL":         "external address resolution is not supported (and ALLOW_IP does not ask for it)",
	"RESOLVE_HTTP_ONLY":   "external address resolution is not supported (and ALLOW_IP does not ask for it)",
	"WGET_CMD":            "external address resolution is not supported",
	"HTTP_USER_AGENT":     "HTTP transport and address resolution are not supported",
	"USE_WGET_USER_AGENT": "HTTP transport and address resolution are not supported",
}

// unsupported settings would change the packet or its route.
var unsupported = map[string]string{
	"GPG_EXE":               "GPG encryption is not supported; use Rijndael keys (knock spa keygen)",
	"GPG_HOMEDIR":           "GPG encryption is not supported; use Rijndael keys (knock spa keygen)",
	"GPG_RECIPIENT":         "GPG encryption is not supported; use Rijndael keys (knock spa keygen)",
	"GPG_SIGNER":            "GPG encryption is not supported; use Rijndael keys (knock spa keygen)",
	"GPG_SIGNING_PW":        "GPG encryption is not supported; use Rijndael keys (knock spa keygen)",
	"GPG_SIGNING_PW_BASE64": "GPG encryption is not supported; use Rijndael keys (knock spa keygen)",
	"GPG_NO_SIGNING_PW":     "GPG encryption is not supported; use Rijndael keys (knock spa keygen)",
	"USE_GPG_AGENT":         "GPG encryption is not supported; use Rijndael keys (knock spa keygen)",
	"KEY_FILE":              "keys are read from the stanza, not from a key file; put KEY_BASE64 in the stanza",
	"HMAC_KEY_FILE":         "keys are read from the stanza, not from a key file; put HMAC_KEY_BASE64 in the stanza",
	"SPA_SOURCE_PORT":       "a fixed source port is not supported",
	"SPOOF_SOURCE_IP":       "spoofing the source address is not supported",
	"RAND_PORT":             "random server ports are not supported; set SPA_SERVER_PORT",
	"NAT_PORT":              "NAT port selection is not supported; use NAT_ACCESS internalIP,port",
	"NAT_RAND_PORT":         "random NAT ports are not supported; use NAT_ACCESS internalIP,port",
	"SERVER_COMMAND":        "server commands are not supported",
	"HTTP_PROXY":            "the HTTP transport is not supported",
	"SERVER_RESOLVE_IPV4":   "server name resolution options are not supported",
}

// honoured are the variables [Config] takes in.
var honoured = []string{
	"SPA_SERVER", "SPA_SERVER_PORT", "SPA_SERVER_PROTO", "ACCESS", "ALLOW_IP", "NAT_ACCESS",
	"NAT_LOCAL", "SPOOF_USER", "FW_TIMEOUT", "CLIENT_TIMEOUT", "TIME_OFFSET", "KEY", "KEY_BASE64",
	"HMAC_KEY", "HMAC_KEY_BASE64", "USE_HMAC", "DIGEST_TYPE", "HMAC_DIGEST_TYPE",
	"ENCRYPTION_MODE", "USE_GPG", "RESOLVE_IP_HTTPS", "RESOLVE_IP_HTTP",
}

// known reports whether name is a variable of fwknop's client.
func known(name string) bool {
	if _, ok := benign[name]; ok {
		return true
	}
	if _, ok := unsupported[name]; ok {
		return true
	}
	for _, h := range honoured {
		if h == name {
			return true
		}
	}
	return false
}

// Resolve applies [default] and then the named stanza and interprets the
// result. Malformed values (a port that is not a number, an unknown time
// unit) are errors naming file:line; settings knock cannot honour are
// collected in Config.Issues.
func (f *File) Resolve(name string) (*Config, error) {
	st := f.Stanza(name)
	if st == nil || name == DefaultStanza {
		return nil, fmt.Errorf("%s: %w [%s]", f.Path, ErrNoStanza, name)
	}
	var vars []Var
	if f.Default != nil {
		vars = append(vars, f.Default.Vars...)
	}
	vars = append(vars, st.Vars...)
	c := &Config{Stanza: name, Lines: map[string]int{}}
	// Later lines override earlier ones: keep the last of each name.
	last := map[string]int{}
	for i, v := range vars {
		last[v.Name] = i
	}
	for i, v := range vars {
		if last[v.Name] != i {
			continue
		}
		c.Lines[v.Name] = v.Line
		if err := c.set(v); err != nil {
			return nil, fmt.Errorf("%s:%d: %s: %w", f.Path, v.Line, v.Name, err)
		}
	}
	return c, nil
}

func (c *Config) issue(v Var, fatal bool, format string, args ...any) {
	c.Issues = append(c.Issues, Issue{Line: v.Line, Name: v.Name, Reason: fmt.Sprintf(format, args...), Fatal: fatal})
}

// set applies one variable.
func (c *Config) set(v Var) error {
	val := v.Value
	switch v.Name {
	case "SPA_SERVER":
		c.Server = val
	case "SPA_SERVER_PORT":
		n, err := strconv.ParseUint(val, 10, 16)
		if err != nil || n == 0 {
			return fmt.Errorf("invalid port %q (want 1..65535)", val)
		}
		c.ServerPort = uint16(n)
	case "SPA_SERVER_PROTO":
		p := strings.ToLower(val)
		switch p {
		case "udp", "tcp":
			c.Proto = p
		case "http", "tcpraw", "icmp", "udpraw":
			c.issue(v, true, "transport %q is not supported (udp or tcp)", val)
		default:
			return fmt.Errorf("invalid protocol %q (want udp or tcp)", val)
		}
	case "ACCESS":
		c.Access = val
	case "ALLOW_IP":
		if strings.EqualFold(val, "resolve") {
			c.issue(v, true, "resolving the external address over HTTPS is not supported; give the address or source")
			return nil
		}
		c.AllowIP = val
	case "NAT_ACCESS":
		c.NATAccess = val
	case "NAT_LOCAL":
		if yes(val) {
			c.issue(v, true, "local NAT access is not supported")
		}
	case "SPOOF_USER":
		c.SpoofUser = val
	case "FW_TIMEOUT", "CLIENT_TIMEOUT":
		n, err := strconv.Atoi(val)
		if err != nil || n < 0 {
			return fmt.Errorf("invalid timeout %q (want seconds >= 0)", val)
		}
		c.FWTimeout = n
	case "TIME_OFFSET":
		d, err := ParseOffset(val)
		if err != nil {
			return err
		}
		c.TimeOffset = d
	case "KEY":
		c.Key = val
	case "KEY_BASE64":
		c.KeyBase64 = val
	case "HMAC_KEY":
		c.HMACKey = val
	case "HMAC_KEY_BASE64":
		c.HMACKeyBase64 = val
	case "USE_HMAC":
		c.UseHMAC, c.UseHMACSet = yes(val), true
	case "DIGEST_TYPE", "HMAC_DIGEST_TYPE":
		if !strings.EqualFold(val, "sha256") {
			c.issue(v, true, "digest %q is not supported (only sha256, fwknop's default)", val)
		}
	case "ENCRYPTION_MODE":
		if !strings.EqualFold(val, "cbc") {
			c.issue(v, true, "encryption mode %q is not supported (only CBC, fwknop's default)", val)
		}
	case "USE_GPG":
		if yes(val) {
			c.issue(v, true, "GPG encryption is not supported; use Rijndael keys (knock spa keygen)")
		}
	case "RESOLVE_IP_HTTPS", "RESOLVE_IP_HTTP":
		if yes(val) {
			c.issue(v, true, "resolving the external address over HTTPS is not supported; set ALLOW_IP")
		}
	default:
		if why, ok := benign[v.Name]; ok {
			c.issue(v, false, "ignored: %s", why)
		} else if why, ok := unsupported[v.Name]; ok {
			c.issue(v, true, "%s", why)
		} else {
			c.issue(v, true, "unknown variable")
		}
	}
	return nil
}

// yes is fwknop's boolean: only "Y" is true.
func yes(s string) bool { return strings.EqualFold(s, "y") }

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
