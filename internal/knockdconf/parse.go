package knockdconf

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/a-knock/knock/internal/safeio"
	"github.com/a-knock/knock/internal/seq"
)

// maxLine is the longest line knockd reads (PATH_MAX); longer lines are
// reported rather than split.
const maxLine = 4096

// Setting is one "key = value" line as written, kept in file order so
// that tools can show or rewrite the file faithfully.
type Setting struct {
	Section string // section name as written, "options" for [options]
	Key     string // key as written
	Canon   string // lower-case canonical key (aliases folded), "" when unknown
	Value   string // trimmed value; "" for a bare UseSyslog
	Line    int
}

// door keys, canonical lower-case names, with their aliases.
var doorKeys = map[string]string{
	"sequence":           "sequence",
	"one_time_sequences": "one_time_sequences",
	"seq_timeout":        "seq_timeout",
	"timeout":            "seq_timeout",
	"tcpflags":           "tcpflags",
	"start_command":      "start_command",
	"command":            "start_command",
	"start_command_6":    "start_command_6",
	"command_6":          "start_command_6",
	"stop_command":       "stop_command",
	"stop_command_6":     "stop_command_6",
	"cmd_timeout":        "cmd_timeout",
	"target":             "target",
	"gate":               "gate", // knock serve extension, see Door.Gate
}

var optionKeys = map[string]bool{"logfile": true, "pidfile": true, "interface": true, "usesyslog": true}

// ParseFile reads and parses the file at path; see [Parse].
func ParseFile(path string) (*Config, error) {
	b, err := safeio.ReadFile(path, safeio.ConfigLimit)
	if err != nil {
		return nil, fmt.Errorf("read knockd configuration: %w", err)
	}
	return Parse(path, bytes.NewReader(b))
}

// Parse parses a knockd.conf read from r; file names it in messages.
//
// It follows knockd 0.8: blank lines and lines starting with "#" are
// skipped, "[options]" (lower case, as knockd compares it) holds UseSyslog,
// LogFile, PidFile and Interface, and every other section is a door. Keys
// are case-insensitive; a later line overrides an earlier one.
//
// Parse does not stop at the first problem. When the file has problems
// it returns the Config built from everything it understood together with
// an [Errors] listing each problem with its file, line and key (problems
// of single lines first, in line order, then those of whole doors), so that
// `knock doctor` can report them all; the first one alone is what knockd
// would refuse to start with. Parse never opens one_time_sequences files.
func Parse(file string, r io.Reader) (*Config, error) {
	c := &Config{File: file, Options: Options{Line: map[string]int{}}}
	var errs Errors
	add := func(e *Error) { errs = append(errs, e) }

	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1024), 1<<20)
	var (
		section string // "" before the first section
		door    *Door  // current door, nil in [options]
		n       int
	)
	for sc.Scan() {
		n++
		raw := sc.Text()
		if n == 1 {
			raw = strings.TrimPrefix(raw, "\uFEFF")
		}
		line := strings.TrimSpace(raw)
		if len(raw) >= maxLine {
			add(problem(file, n, "", "line longer than %d bytes", maxLine-1))
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		if line[0] == '[' && line[len(line)-1] == ']' {
			section = line[1 : len(line)-1]
			if section == "" {
				add(problem(file, n, "", "empty section name []"))
				door = nil
				continue
			}
			if section == "options" {
				door = nil
				continue
			}
			door = &Door{Name: section, Line: n, SeqTimeout: DefaultSeqTimeout, CmdTimeout: DefaultCmdTimeout, Lines: map[string]int{}}
			c.Doors = append(c.Doors, door)
			continue
		}
		if line[0] == '[' {
			add(problem(file, n, "", "malformed section header %q (want [name])", line))
			continue
		}
		key, value, hasValue := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		value = strings.TrimSpace(value)
		lkey := strings.ToLower(key)
		if section == "" {
			add(problem(file, n, key, "setting outside any section (put it under [options] or a [door])"))
			continue
		}
		set := Setting{Section: section, Key: key, Value: value, Line: n}
		if !hasValue {
			// knockd accepts a bare UseSyslog in any section.
			if lkey == "usesyslog" {
				set.Canon = "usesyslog"
				c.Settings = append(c.Settings, set)
				c.Options.UseSyslog = true
				c.Options.Line["usesyslog"] = n
				continue
			}
			c.Settings = append(c.Settings, set)
			add(problem(file, n, key, "missing \"=\" (want key = value)"))
			continue
		}
		if key == "" {
			c.Settings = append(c.Settings, set)
			add(problem(file, n, "", "missing key before \"=\""))
			continue
		}
		if door == nil {
			set.Canon = c.option(file, n, key, lkey, value, add)
		} else {
			set.Canon = door.set(file, n, key, lkey, value, add)
		}
		c.Settings = append(c.Settings, set)
	}
	if err := sc.Err(); err != nil {
		add(&Error{File: file, Line: n + 1, Err: fmt.Errorf("read: %w", err)})
	}
	for _, d := range c.Doors {
		if len(d.Sequence) == 0 && d.OneTimeSequences == "" && d.Lines["sequence"] == 0 {
			add(problem(file, d.Line, "", "door [%s] has no sequence (add sequence = PORT[:PROTO],...)", d.Name))
		}
	}
	if len(errs) > 0 {
		return c, errs
	}
	return c, nil
}

// option applies one line of [options] and returns its canonical key.
func (c *Config) option(file string, n int, key, lkey, value string, add func(*Error)) string {
	if !optionKeys[lkey] {
		if _, ok := doorKeys[lkey]; ok {
			add(problem(file, n, key, "door setting in [options] (put it in a [door] section)"))
			return ""
		}
		add(problem(file, n, key, "unknown key in [options] (want UseSyslog, LogFile, PidFile or Interface)"))
		return ""
	}
	c.Options.Line[lkey] = n
	switch lkey {
	case "usesyslog":
		// knockd takes only the bare word; "UseSyslog = yes" is a syntax error there.
		add(problem(file, n, key, "takes no value (write just UseSyslog)"))
	case "logfile":
		c.Options.LogFile = value
	case "pidfile":
		c.Options.PidFile = value
	case "interface":
		if value == "" {
			add(problem(file, n, key, "empty interface name"))
		}
		c.Options.Interface = value
	}
	return lkey
}

// set applies one line of a door section and returns its canonical key.
func (d *Door) set(file string, n int, key, lkey, value string, add func(*Error)) string {
	canon, ok := doorKeys[lkey]
	if !ok {
		if optionKeys[lkey] {
			add(problem(file, n, key, "belongs in [options], not in door [%s] (section names are case-sensitive)", d.Name))
			return ""
		}
		add(problem(file, n, key, "unknown key in door [%s] (want sequence, one_time_sequences, seq_timeout, tcpflags, start_command, stop_command, cmd_timeout, their _6 variants, or target)", d.Name))
		return ""
	}
	d.Lines[canon] = n
	switch canon {
	case "sequence":
		s, err := seq.Parse(seq.TCP, value)
		if err != nil {
			add(problem(file, n, key, "%v", err))
			return canon
		}
		d.Sequence = s
	case "one_time_sequences":
		if value == "" {
			add(problem(file, n, key, "empty file name"))
		}
		d.OneTimeSequences = value
	case "seq_timeout", "cmd_timeout":
		secs, err := parseSeconds(value)
		if err != nil {
			add(problem(file, n, key, "%v", err))
			return canon
		}
		if canon == "seq_timeout" {
			d.SeqTimeout = secs
		} else {
			d.CmdTimeout = secs
		}
	case "tcpflags":
		f, err := seq.ParseFlags(value)
		if err != nil {
			add(problem(file, n, key, "%v", err))
			return canon
		}
		d.TCPFlags = f
	case "start_command":
		d.StartCommand = value
	case "start_command_6":
		d.StartCommand6 = value
	case "stop_command":
		d.StopCommand = value
	case "stop_command_6":
		d.StopCommand6 = value
	case "target":
		d.Target = value
	case "gate":
		v := strings.ToLower(value)
		if v != GateOpen && v != GateClose {
			add(problem(file, n, key, "invalid gate action %q (want open or close)", value))
			return canon
		}
		d.Gate = v
	}
	return canon
}

// parseSeconds parses a whole number of seconds as knockd's atoi would
// read it, but refuses what atoi silently turns into something else.
func parseSeconds(s string) (time.Duration, error) {
	v, err := strconv.ParseUint(s, 10, 31)
	if err != nil {
		return 0, fmt.Errorf("invalid timeout %q (want whole seconds, 0 or more)", s)
	}
	return time.Duration(v) * time.Second, nil
}
