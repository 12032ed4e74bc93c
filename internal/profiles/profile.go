// Package profiles keeps named knock profiles: the sequence (or SPA key, or
// one-time secret) for a host, so that a user types `knock myserver`
// instead of a port list. Profiles live in the OS keyring (macOS Keychain,
// Windows Credential Manager, Secret Service) or in a 0600 file in the
// user's config directory. It also imports knockd.conf, .fwknoprc and
// knock's own exports. (What ~/.ssh/config says about a name is
// internal/sshconf's business; internal/door merges the two.)
//
// Nothing here runs at package initialisation: the keyring is touched
// only when a caller asks for a profile.
package profiles

import (
	"errors"
	"fmt"
	"strings"

	"github.com/a-knock/knock/internal/exit"
	"github.com/a-knock/knock/internal/seq"
)

// Kind says how a profile opens its door.
type Kind string

// The profile kinds.
const (
	KindSequence Kind = "sequence" // a knockd port sequence (the default)
	KindSPA      Kind = "spa"      // an fwknop single packet authorization
	KindOTP      Kind = "otp"      // a one-time sequence derived from a shared secret
)

// Limits that keep a profile small enough for every keyring.
const (
	MaxNameLen  = 64
	MaxHostLen  = 255
	MaxNotesLen = 4096
	MaxForwards = 16
)

// Sentinel errors. Callers test them with errors.Is. Each is bad input
// (exit code 2, see internal/exit), however deeply it is wrapped.
var (
	// ErrNotFound: no store holds a profile of that name.
	ErrNotFound = exit.Usage(errors.New("profile not found"))
	// ErrExists: a profile of that name already exists.
	ErrExists = exit.Usage(errors.New("profile already exists"))
	// ErrCorrupt: a stored record cannot be decoded.
	ErrCorrupt = exit.Usage(errors.New("corrupted profile record"))
	// ErrInvalid: a profile's fields are not valid.
	ErrInvalid = exit.Usage(errors.New("invalid profile"))
)

// Profile is one saved target.
type Profile struct {
	Name string `json:"name"`
	Kind Kind   `json:"kind,omitempty"` // "" reads as KindSequence

	// Host is the address or DNS name to knock. When empty, the name is
	// resolved through ~/.ssh/config (HostName), else used as is.
	Host string `json:"host,omitempty"`

	// Open and Close are sequences in knockd syntax with an explicit
	// protocol per knock ("7000:tcp,8000:udp"). Close may be empty.
	Open  string `json:"open,omitempty"`
	Close string `json:"close,omitempty"`

	TCPFlags   string `json:"tcp_flags,omitempty"`   // knockd TCPFlags syntax, "fin,!ack"
	DelayMS    int    `json:"delay_ms,omitempty"`    // milliseconds between knocks
	Method     string `json:"method,omitempty"`      // "", "auto", "connect" or "raw"
	Family     string `json:"family,omitempty"`      // "", "any", "inet" or "inet6" (ssh_config names)
	WaitPort   uint16 `json:"wait_port,omitempty"`   // TCP port that proves the door opened
	SeqTimeout int    `json:"seq_timeout,omitempty"` // the door's seq_timeout in seconds, 0 unknown
	Notes      string `json:"notes,omitempty"`

	// Forwards are knock forward's specs, [BIND:]LOCALPORT:REMOTEPORT,
	// started by `knock forward NAME` without specs (and the picker's f).
	Forwards []string `json:"forwards,omitempty"`

	SPA *SPAConfig `json:"spa,omitempty"`
	OTP *OTPConfig `json:"otp,omitempty"`
}

// SPAConfig holds what an fwknop single packet authorization needs: every
// option of fwknop's client (see [NewSPAConfig] and [SPAConfig.Options]).
// The keys, the GPG keyring and its passphrase are secrets: the profile
// lives in the keyring or the 0600 file store, and messages never quote
// them.
type SPAConfig struct {
	KeyBase64     string `json:"key_base64,omitempty"`       // KEY_BASE64 (empty with GPG)
	HMACKeyBase64 string `json:"hmac_key_base64,omitempty"`  // HMAC_KEY_BASE64
	HMACDigest    string `json:"hmac_digest_type,omitempty"` // HMAC_DIGEST_TYPE; "" is sha256
	Mode          string `json:"encryption_mode,omitempty"`  // ENCRYPTION_MODE; "" is cbc, or legacy
	Digest        string `json:"digest_type,omitempty"`      // DIGEST_TYPE; "" is sha256
	UseHMAC       bool   `json:"use_hmac,omitempty"`         // an HMAC key is set (USE_HMAC)

	Access      []string `json:"access,omitempty"`            // "tcp/22"
	AllowIP     string   `json:"allow_ip,omitempty"`          // "", source, an IPv4 address, or resolve
	ResolveURL  string   `json:"resolve_url,omitempty"`       // RESOLVE_URL, with allow_ip resolve
	HTTPOnly    bool     `json:"resolve_http_only,omitempty"` // RESOLVE_HTTP_ONLY
	FWTimeout   int      `json:"fw_timeout,omitempty"`        // FW_TIMEOUT seconds
	TimeOffset  int      `json:"time_offset,omitempty"`       // TIME_OFFSET seconds
	NATAccess   string   `json:"nat_access,omitempty"`        // NAT_ACCESS internalIP[,port]
	NATLocal    bool     `json:"nat_local,omitempty"`         // NAT_LOCAL
	NATPort     uint16   `json:"nat_port,omitempty"`          // NAT_PORT
	NATRandPort bool     `json:"nat_rand_port,omitempty"`     // NAT_RAND_PORT
	Command     string   `json:"server_cmd,omitempty"`        // a command for fwknopd (-C)
	User        string   `json:"user,omitempty"`              // SPOOF_USER; "" sends the login name

	ServerPort  uint16 `json:"server_port,omitempty"`     // SPA_SERVER_PORT; 0 is 62201
	RandPort    bool   `json:"rand_port,omitempty"`       // RAND_PORT
	Proto       string `json:"proto,omitempty"`           // SPA_SERVER_PROTO; "" is udp
	SourcePort  uint16 `json:"source_port,omitempty"`     // SPA_SOURCE_PORT
	SpoofSource string `json:"spoof_source_ip,omitempty"` // SPOOF_SOURCE_IP
	UserAgent   string `json:"http_user_agent,omitempty"` // HTTP_USER_AGENT
	ICMPType    uint8  `json:"icmp_type,omitempty"`       // --icmp-type
	ICMPCode    uint8  `json:"icmp_code,omitempty"`       // --icmp-code

	GPGRecipient string `json:"gpg_recipient,omitempty"`  // GPG_RECIPIENT; set means GPG
	GPGSigner    string `json:"gpg_signer,omitempty"`     // GPG_SIGNER
	GPGKeyring   []byte `json:"gpg_keyring,omitempty"`    // the recipient's public and the signer's secret key (binary OpenPGP)
	GPGSigningPW []byte `json:"gpg_signing_pw,omitempty"` // GPG_SIGNING_PW, when the signer's key is locked
}

// OTPConfig holds a one-time sequence generator's state.
type OTPConfig struct {
	Secret  []byte `json:"secret,omitempty"`
	Counter uint64 `json:"counter,omitempty"`
	Length  int    `json:"length,omitempty"`
	PortLo  uint16 `json:"port_lo,omitempty"`
	PortHi  uint16 `json:"port_hi,omitempty"`
	Proto   string `json:"proto,omitempty"`
}

// EffectiveKind returns p.Kind, with "" read as [KindSequence].
func (p *Profile) EffectiveKind() Kind {
	if p.Kind == "" {
		return KindSequence
	}
	return p.Kind
}

// OpenSeq parses the open sequence.
func (p *Profile) OpenSeq() (seq.Sequence, error) { return seq.Parse(seq.TCP, p.Open) }

// CloseSeq parses the close sequence; it returns nil, nil when there is none.
func (p *Profile) CloseSeq() (seq.Sequence, error) {
	if p.Close == "" {
		return nil, nil
	}
	return seq.Parse(seq.TCP, p.Close)
}

// Clone returns a deep copy of p.
func (p *Profile) Clone() *Profile {
	c := *p
	if p.SPA != nil {
		s := *p.SPA
		s.Access = append([]string(nil), p.SPA.Access...)
		s.GPGKeyring = append([]byte(nil), p.SPA.GPGKeyring...)
		s.GPGSigningPW = append([]byte(nil), p.SPA.GPGSigningPW...)
		c.SPA = &s
	}
	c.Forwards = append([]string(nil), p.Forwards...)
	if p.OTP != nil {
		o := *p.OTP
		o.Secret = append([]byte(nil), p.OTP.Secret...)
		c.OTP = &o
	}
	return &c
}

// ValidName reports whether name can name a profile: 1 to 64 letters,
// digits, '.', '_', '-' or '@', starting with a letter or digit, and not a
// port list (which `knock HOST PORT` would read as knocks).
func ValidName(name string) error {
	if name == "" || len(name) > MaxNameLen {
		return fmt.Errorf("%w: name %q must be 1 to %d characters", ErrInvalid, name, MaxNameLen)
	}
	for i, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			i > 0 && strings.ContainsRune("._-@", r)
		if !ok {
			return fmt.Errorf("%w: name %q: use letters, digits, '.', '_', '-' and '@', starting with a letter or digit", ErrInvalid, name)
		}
	}
	if _, err := seq.Parse(seq.TCP, name); err == nil {
		return fmt.Errorf("%w: name %q looks like a port list", ErrInvalid, name)
	}
	return nil
}

// seqSyntax explains the sequence syntax in errors, which never quote the
// sequence itself: it is the secret.
const seqSyntax = "(want PORT[:tcp|udp],... with ports 1..65535, at most 32 knocks)"

// Normalize canonicalises p's sequences and flags in place (explicit
// protocols, knockd spelling) and validates it.
func (p *Profile) Normalize() error {
	if p.Open != "" {
		s, err := p.OpenSeq()
		if err != nil {
			return fmt.Errorf("%w: malformed open sequence %s", ErrInvalid, seqSyntax)
		}
		p.Open = s.String()
	}
	if p.Close != "" {
		s, err := p.CloseSeq()
		if err != nil {
			return fmt.Errorf("%w: malformed close sequence %s", ErrInvalid, seqSyntax)
		}
		p.Close = s.String()
	}
	if p.TCPFlags != "" {
		f, err := seq.ParseFlags(p.TCPFlags)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		p.TCPFlags = f.String()
	}
	if p.Kind == KindSequence {
		p.Kind = ""
	}
	return p.Validate()
}

// Validate checks every field without changing p. Error text never
// contains a sequence or key.
func (p *Profile) Validate() error {
	if err := ValidName(p.Name); err != nil {
		return err
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %q: "+format, append([]any{ErrInvalid, p.Name}, args...)...)
	}
	switch p.Kind {
	case "", KindSequence:
		if p.Open == "" {
			return bad("no open sequence")
		}
	case KindSPA:
		if p.SPA == nil {
			return bad("kind spa without spa settings")
		}
		if err := p.SPA.validate(); err != nil {
			return bad("%v", err)
		}
	case KindOTP:
		if p.OTP == nil {
			return bad("kind otp without otp settings")
		}
	default:
		return bad("unknown kind %q (want sequence, spa or otp)", p.Kind)
	}
	if err := validHost(p.Host); err != nil {
		return bad("%v", err)
	}
	// Sequences are checked but never quoted: they are the secret.
	if p.Open != "" {
		if _, err := p.OpenSeq(); err != nil {
			return bad("malformed open sequence %s", seqSyntax)
		}
	}
	if p.Close != "" {
		if _, err := p.CloseSeq(); err != nil {
			return bad("malformed close sequence %s", seqSyntax)
		}
	}
	if _, err := seq.ParseFlags(p.TCPFlags); err != nil {
		return bad("%v", err)
	}
	if p.DelayMS < 0 || p.DelayMS > 600000 {
		return bad("delay %d ms out of range 0..600000", p.DelayMS)
	}
	switch p.Method {
	case "", "auto", "connect", "raw":
	default:
		return bad("invalid method %q (want auto, connect or raw)", p.Method)
	}
	if f, _ := seq.ParseFlags(p.TCPFlags); p.Method == "connect" && f.NeedsRaw() {
		return bad("tcp-flags %q need raw packets, and method connect sends a plain SYN", p.TCPFlags)
	}
	switch p.Family {
	case "", "any", "inet", "inet6":
	default:
		return bad("invalid address family %q (want any, inet or inet6)", p.Family)
	}
	if p.SeqTimeout < 0 || p.SeqTimeout > 86400 {
		return bad("seq_timeout %d out of range", p.SeqTimeout)
	}
	if len(p.Notes) > MaxNotesLen {
		return bad("notes longer than %d bytes", MaxNotesLen)
	}
	if len(p.Forwards) > MaxForwards {
		return bad("%d forwards, at most %d", len(p.Forwards), MaxForwards)
	}
	for _, f := range p.Forwards {
		if f == "" || len(f) > 64 || strings.ContainsAny(f, " \t\n") {
			return bad("malformed forward %q", f)
		}
	}
	return nil
}

// validHost accepts DNS names and IP literals (with an IPv6 zone): ASCII
// letters, digits and ".-_:%[]", at most 255 bytes.
func validHost(h string) error {
	if len(h) > MaxHostLen {
		return fmt.Errorf("host longer than %d bytes", MaxHostLen)
	}
	for _, r := range h {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".-_:%[]", r)
		if !ok {
			return fmt.Errorf("invalid host %q", h)
		}
	}
	return nil
}
