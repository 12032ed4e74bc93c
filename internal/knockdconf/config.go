// Package knockdconf reads knockd's configuration file (knockd.conf) with
// knockd's own rules: an [options] section and one section per door, keys
// case-insensitive, "#" comments. Every value keeps the line it came from,
// so that callers (the reference server, the profile importer and
// `knock doctor`) can name the file and line of a problem.
package knockdconf

import (
	"time"

	"github.com/a-knock/knock/internal/seq"
)

// Defaults from knockd.
const (
	DefaultSeqTimeout = 25 * time.Second
	DefaultCmdTimeout = 10 * time.Second
	DefaultInterface  = "eth0"
)

// Gate actions of a door (the door key "gate", a knock serve extension).
const (
	GateOpen  = "open"
	GateClose = "close"
)

// Config is a parsed knockd.conf.
type Config struct {
	File    string // the name given to Parse, used in messages
	Options Options
	Doors   []*Door

	// Settings lists every key = value line in file order, including
	// those that were rejected (their Canon is "").
	Settings []Setting
}

// Options is the [options] section.
type Options struct {
	UseSyslog bool
	LogFile   string
	PidFile   string
	Interface string
	Line      map[string]int // lower-case key -> line number where it was set
}

// Door is one knock door: a [section] other than [options].
type Door struct {
	Name string
	Line int // line of the [section] header

	Sequence         seq.Sequence // empty when OneTimeSequences is used
	OneTimeSequences string       // path of a one_time_sequences file, or ""
	SeqTimeout       time.Duration
	TCPFlags         seq.Flags
	StartCommand     string
	StartCommand6    string
	StopCommand      string
	StopCommand6     string
	CmdTimeout       time.Duration
	Target           string

	// Gate is a knock serve extension that knockd does not know: "open"
	// admits the knocker to the guarded ports of `knock serve --gate` for
	// CmdTimeout, "close" revokes that at once; "" leaves the gate alone.
	Gate string

	// Line maps each lower-case key set in the section (aliases folded to
	// their canonical name: "command" -> "start_command", "timeout" ->
	// "seq_timeout") to its line number.
	Lines map[string]int
}
