package serverconf

import (
	"fmt"
	"time"

	"github.com/a-knock/knock/internal/profiles"
	"github.com/a-knock/knock/internal/seq"
)

// ForProfile fills c's sequences, flags and timeouts from profile p (a
// sequence profile) and returns what the server's administrator should
// know about them: one warning a line. c.Port, the style and the firewall
// are the caller's.
func ForProfile(c *Config, p *profiles.Profile, part Part) ([]string, error) {
	var warns []string
	warn := func(format string, args ...any) { warns = append(warns, fmt.Sprintf(format, args...)) }
	name := p.Name
	if k := p.EffectiveKind(); k != profiles.KindSequence {
		return nil, fmt.Errorf("%w: profile %q is of kind %s: server-config renders knockd doors for sequence profiles only", profiles.ErrInvalid, name, k)
	}
	c.Name = name
	var err error
	if c.Open, err = p.OpenSeq(); err != nil {
		return nil, fmt.Errorf("profile %q: malformed open sequence", name)
	}
	if c.Close, err = p.CloseSeq(); err != nil {
		return nil, fmt.Errorf("profile %q: malformed close sequence", name)
	}
	if len(c.Close) == 0 {
		warn("profile %q has no close sequence, so `knock close %s` sends nothing; the close door below uses the reversed open sequence: save it with knock profile edit %s --close - and type it", name, name, name)
	}
	if c.Flags, err = seq.ParseFlags(p.TCPFlags); err != nil {
		return nil, fmt.Errorf("profile %q: %w", name, err)
	}
	if c.Flags.NeedsRaw() {
		warn("tcpflags %q need raw sockets on every client (root or CAP_NET_RAW, none on Windows)", c.Flags)
	}
	if p.SeqTimeout > 0 {
		c.SeqTimeout = time.Duration(p.SeqTimeout) * time.Second
		if min := MinSeqTimeout(len(c.Open)); c.SeqTimeout < min {
			warn("the profile's seq_timeout %d s is short for %d knocks; using %d s", p.SeqTimeout, len(c.Open), int(SeqTimeoutFor(len(c.Open))/time.Second))
			c.SeqTimeout = 0
		}
	}
	doorTimeout := c.SeqTimeout
	if doorTimeout == 0 {
		doorTimeout = SeqTimeoutFor(len(c.Open))
	}
	if need := time.Duration(p.DelayMS*(len(c.Open)-1)) * time.Millisecond; need >= doorTimeout-time.Second {
		warn("the profile's delay of %d ms makes the sequence last %s, too long for the door's seq_timeout of %s", p.DelayMS, need, doorTimeout)
	}
	if part != PartKnockd {
		port := c.Port
		if port == 0 {
			port = DefaultPort
		}
		warn("keep a console open on the server (provider console, second session) until `knock %s` has worked: the firewall rules block new connections to tcp/%d", name, port)
	}
	return warns, nil
}
