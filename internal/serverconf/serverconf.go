// Package serverconf renders what a server administrator pastes to make a
// knock profile work: the knockd.conf doors (an open and a close door, or a
// timed door that closes by itself) and the base firewall rules, for
// iptables/ip6tables or nftables.
//
// The output avoids the mistakes of the usual tutorials: door commands
// insert (-I) their ACCEPT above the DROP instead of appending it behind,
// the close door deletes exactly what the open door inserted, commands use
// absolute paths and have IPv6 (_6) twins, and the base rules keep
// established sessions alive before they drop new connections.
package serverconf

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/a-knock/knock/internal/seq"
)

// Firewall names the server's packet filter.
type Firewall string

// The supported firewalls.
const (
	IPTables Firewall = "iptables"
	NFTables Firewall = "nftables"
)

// Style says how the guarded port closes again.
type Style string

// The door styles.
const (
	// Pair: an open door inserts the ACCEPT, a close door deletes it.
	Pair Style = "pair"
	// Timed: the open door's stop_command deletes the ACCEPT cmd_timeout
	// seconds later; a close door still closes early.
	Timed Style = "timed"
)

// Part selects what [Render] prints.
type Part string

// The parts of a server configuration.
const (
	PartKnockd   Part = "knockd"
	PartFirewall Part = "firewall"
	PartAll      Part = "all"
)

// Defaults.
const (
	DefaultSbin       = "/usr/sbin"
	DefaultPort       = 22
	DefaultTimedOpen  = 30 * time.Second // cmd_timeout of a timed door
	DefaultNFTOpenFor = time.Hour        // set element timeout for a door pair
	DefaultTCPFlags   = "syn,!ack"       // what connect() sends: a lone SYN
)

// ErrInvalid is returned for an incomplete or inconsistent [Config].
var ErrInvalid = errors.New("invalid server configuration")

// Config is the profile-like input of the renderers.
type Config struct {
	Name  string       // profile name; door, table and set names derive from it
	Open  seq.Sequence // the open sequence
	Close seq.Sequence // the close sequence; nil means Open reversed

	// Flags is the doors' TCPFlags. The zero value renders
	// [DefaultTCPFlags], which a plain connect() satisfies and which makes
	// knockd ignore the RST and ACK segments a closing socket may send.
	Flags seq.Flags
	Port  uint16 // guarded TCP port; 0 means 22

	Firewall Firewall // "" means iptables
	Style    Style    // "" means pair
	// OpenFor is the timed door's cmd_timeout, and with nftables the
	// lifetime of the set element; 0 picks a default for the style.
	OpenFor time.Duration
	// SeqTimeout is the doors' seq_timeout; 0 picks [SeqTimeoutFor].
	SeqTimeout time.Duration
	Sbin       string // directory of iptables, ip6tables and nft; "" means /usr/sbin
}

// MinSeqTimeout is the shortest seq_timeout that n knocks reliably fit in.
// knockd counts whole seconds from the first knock (a sequence that
// straddles a second boundary loses up to one), and a client needs time for
// each knock, for a possible replay after a lost packet, and for network
// jitter: one second plus a quarter second per knock, rounded up, and never
// less than 2 s.
func MinSeqTimeout(n int) time.Duration {
	d := time.Second + time.Duration(n)*250*time.Millisecond
	d = (d + time.Second - 1) / time.Second * time.Second
	return max(d, 2*time.Second)
}

// SeqTimeoutFor is the seq_timeout rendered for n knocks: five seconds
// plus one per knock, comfortably above [MinSeqTimeout].
func SeqTimeoutFor(n int) time.Duration {
	return 5*time.Second + time.Duration(n)*time.Second
}

// withDefaults validates c and fills in its defaults.
func (c Config) withDefaults() (Config, error) {
	if len(c.Open) == 0 {
		return c, fmt.Errorf("%w: no open sequence", ErrInvalid)
	}
	if c.Close == nil {
		c.Close = c.Open.Reverse()
	}
	if len(c.Close) == 0 {
		return c, fmt.Errorf("%w: empty close sequence", ErrInvalid)
	}
	if c.Close.String() == c.Open.String() {
		return c, fmt.Errorf("%w: the close sequence equals the open sequence", ErrInvalid)
	}
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	for _, k := range append(append(seq.Sequence{}, c.Open...), c.Close...) {
		if k.Port == c.Port && k.Proto == seq.TCP {
			return c, fmt.Errorf("%w: the guarded port %d is also a knock port", ErrInvalid, c.Port)
		}
	}
	switch c.Firewall {
	case "":
		c.Firewall = IPTables
	case IPTables, NFTables:
	default:
		return c, fmt.Errorf("%w: firewall %q (want iptables or nftables)", ErrInvalid, c.Firewall)
	}
	switch c.Style {
	case "":
		c.Style = Pair
	case Pair, Timed:
	default:
		return c, fmt.Errorf("%w: style %q (want pair or timed)", ErrInvalid, c.Style)
	}
	if c.OpenFor < 0 || c.OpenFor%time.Second != 0 {
		return c, fmt.Errorf("%w: open time %s (want whole seconds)", ErrInvalid, c.OpenFor)
	}
	if c.OpenFor == 0 {
		c.OpenFor = DefaultTimedOpen
		if c.Style == Pair && c.Firewall == NFTables {
			c.OpenFor = DefaultNFTOpenFor
		}
	}
	if c.SeqTimeout == 0 {
		c.SeqTimeout = SeqTimeoutFor(max(len(c.Open), len(c.Close)))
	}
	if c.SeqTimeout < time.Second || c.SeqTimeout%time.Second != 0 {
		return c, fmt.Errorf("%w: seq_timeout %s (want whole seconds)", ErrInvalid, c.SeqTimeout)
	}
	if c.Sbin == "" {
		c.Sbin = DefaultSbin
	}
	if !strings.HasPrefix(c.Sbin, "/") {
		return c, fmt.Errorf("%w: tool directory %q is not absolute", ErrInvalid, c.Sbin)
	}
	c.Sbin = strings.TrimRight(c.Sbin, "/")
	return c, nil
}

// ident turns a profile name into an identifier that knockd sections and
// nft tables and sets accept.
func ident(name string) string {
	var b strings.Builder
	for _, r := range name {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "knock"
	}
	return b.String()
}

// DoorNames returns the section names of the open and close doors.
func DoorNames(name string) (open, close string) {
	id := ident(name)
	return "knock-" + id + "-open", "knock-" + id + "-close"
}

// TableName is the nftables table (family inet) of a profile.
func TableName(name string) string { return "knock_" + ident(name) }

// Render writes the part of c's server configuration to w.
func Render(w io.Writer, c Config, part Part) error {
	c, err := c.withDefaults()
	if err != nil {
		return err
	}
	var out string
	switch part {
	case PartKnockd:
		out = c.knockd()
	case PartFirewall:
		out = c.firewall()
	case PartAll, "":
		out = c.knockd() + "\n" + c.firewall()
	default:
		return fmt.Errorf("%w: part %q (want knockd, firewall or all)", ErrInvalid, part)
	}
	_, err = io.WriteString(w, out)
	return err
}

func secs(d time.Duration) int { return int(d / time.Second) }
