package profiles

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/a-knock/knock/internal/fwknoprc"
	"github.com/a-knock/knock/internal/knockdconf"
	"github.com/a-knock/knock/internal/spa"
)

// ImportOptions tune an import.
type ImportOptions struct {
	// Host is given to every imported profile; when empty, profiles get
	// no host and their names resolve through ~/.ssh/config.
	Host string
	// Only, when not empty, imports only these stanzas or doors, each
	// named as the file names it (ignoring case) or as the profile it
	// would become.
	Only []string
	// As names the one profile the import yields, instead of the name
	// taken from the file (an error when it yields several).
	As string
	// GPGKeyring holds exported GPG keys (gpg --export and
	// --export-secret-keys output) for fwknoprc stanzas with USE_GPG.
	GPGKeyring *spa.GPGKeyring

	matched map[string]bool // Only entries that matched, lower case
}

// selected reports whether a stanza or door known by any of names is to
// be imported, and notes which Only entries matched.
func (o ImportOptions) selected(names ...string) bool {
	if len(o.Only) == 0 {
		return true
	}
	hit := false
	for _, want := range o.Only {
		for _, n := range names {
			if n != "" && strings.EqualFold(want, n) {
				hit = true
				if o.matched != nil {
					o.matched[strings.ToLower(want)] = true
				}
			}
		}
	}
	return hit
}

// importer reads one foreign format into profiles. Detect looks at the
// content, never at the file name.
type importer struct {
	Name   string
	Detect func(data []byte) bool
	// Import returns the profiles found and warnings about what was
	// skipped or approximated; its errors name file and line.
	Import func(file string, data []byte, opt ImportOptions) ([]*Profile, []string, error)
}

// importers are the formats Import reads, tried in order.
var importers = []importer{
	{Name: "knock export", Detect: isListRecord, Import: importExport},
	{Name: "knockd.conf", Detect: isKnockdConf, Import: importKnockd},
	{Name: "fwknoprc", Detect: fwknoprc.LooksLike, Import: importFwknoprc},
}

// ErrUnknownFormat is returned when no importer recognises a file.
var ErrUnknownFormat = errors.New("unrecognised file format")

// ImportResult is what [Import] found.
type ImportResult struct {
	Format   string
	Profiles []*Profile
	Warnings []string
}

// Import detects the format of data by its content and converts it. Every
// profile returned is normalised and valid, with unique names.
func Import(file string, data []byte, opt ImportOptions) (*ImportResult, error) {
	if opt.Host != "" {
		if err := validHost(opt.Host); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	}
	var names []string
	for _, im := range importers {
		names = append(names, im.Name)
		if !im.Detect(data) {
			continue
		}
		opt.matched = map[string]bool{}
		ps, warns, err := im.Import(file, data, opt)
		if err != nil {
			return nil, err
		}
		for _, want := range opt.Only {
			if !opt.matched[strings.ToLower(want)] {
				return nil, fmt.Errorf("%s: %w: --only %s: no stanza, door or profile of that name", file, ErrInvalid, want)
			}
		}
		if opt.As != "" {
			if len(ps) != 1 {
				var names []string
				for _, p := range ps {
					names = append(names, p.Name)
				}
				return nil, fmt.Errorf("%s: %w: --as names one profile, but the file yields %d (%s); pick one with --only", file, ErrInvalid, len(ps), strings.Join(names, ", "))
			}
			ps[0].Name = opt.As
		}
		seen := map[string]bool{}
		for _, p := range ps {
			if opt.Host != "" {
				p.Host = opt.Host
			}
			if err := p.Normalize(); err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			if seen[p.Name] {
				return nil, fmt.Errorf("%s: %w: two profiles would be called %q", file, ErrInvalid, p.Name)
			}
			seen[p.Name] = true
		}
		return &ImportResult{Format: im.Name, Profiles: ps, Warnings: warns}, nil
	}
	return nil, fmt.Errorf("%s: %w (knock reads: %s)", file, ErrUnknownFormat, strings.Join(names, ", "))
}

func importExport(file string, data []byte, opt ImportOptions) ([]*Profile, []string, error) {
	ps, err := DecodeList(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", file, err)
	}
	var out []*Profile
	for _, p := range ps {
		if opt.selected(p.Name) {
			out = append(out, p)
		}
	}
	return out, nil, nil
}

// Regular expressions are compiled on first use, not at start-up.
var (
	knockdKey = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?im)^[ \t]*(sequence|one_time_sequences)[ \t]*=`)
	})
	knockdSection = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?m)^[ \t]*\[[^\]\n]+\][ \t]*$`)
	})
	dportRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`--dport[ \t=]+([0-9]{1,5})\b`)
	})
)

// isKnockdConf: a [section] and a Sequence or One_Time_Sequences key.
func isKnockdConf(b []byte) bool {
	if len(b) > maxFile || bytes.IndexByte(b, 0) >= 0 {
		return false
	}
	return knockdSection().Match(b) && knockdKey().Match(b)
}

// importKnockd turns each door into a profile; doors [openX] and
// [closeX] become one profile x with open and close sequences. A single
// --dport N in the door's start command becomes the wait port.
func importKnockd(file string, data []byte, opt ImportOptions) ([]*Profile, []string, error) {
	cfg, err := knockdconf.Parse(file, bytes.NewReader(data))
	if err != nil {
		return nil, nil, err
	}
	var warns []string
	byName := map[string]*knockdconf.Door{}
	for _, d := range cfg.Doors {
		byName[strings.ToLower(d.Name)] = d
	}
	used := map[*knockdconf.Door]bool{}
	var ps []*Profile
	names := map[string]bool{}
	for _, d := range cfg.Doors {
		if used[d] {
			continue
		}
		lower := strings.ToLower(d.Name)
		var closeDoor *knockdconf.Door
		name := lower
		if rest, ok := strings.CutPrefix(lower, "open"); ok && rest != "" {
			if c := byName["close"+rest]; c != nil && c != d {
				closeDoor, name = c, rest
			}
		} else if rest, ok := strings.CutPrefix(lower, "close"); ok && byName["open"+rest] != nil {
			continue // imported with its open door
		}
		closeName := ""
		if closeDoor != nil {
			closeName = closeDoor.Name
		}
		if !opt.selected(d.Name, closeName, name) {
			continue
		}
		if d.OneTimeSequences != "" || (closeDoor != nil && closeDoor.OneTimeSequences != "") {
			warns = append(warns, fmt.Sprintf("%s:%d: door [%s] uses one_time_sequences; not imported", file, d.Line, d.Name))
			continue
		}
		if len(d.Sequence) == 0 {
			warns = append(warns, fmt.Sprintf("%s:%d: door [%s] has no sequence; not imported", file, d.Line, d.Name))
			continue
		}
		p := &Profile{
			Name:       profileName(name, names),
			Open:       d.Sequence.String(),
			TCPFlags:   d.TCPFlags.String(),
			SeqTimeout: int(d.SeqTimeout.Seconds()),
			WaitPort:   dport(d.StartCommand),
		}
		names[p.Name] = true
		p.Notes = fmt.Sprintf("imported from %s [%s]", file, d.Name)
		if closeDoor != nil {
			used[closeDoor] = true
			p.Close = closeDoor.Sequence.String()
			p.Notes += fmt.Sprintf(" and [%s]", closeDoor.Name)
			if closeDoor.TCPFlags != d.TCPFlags {
				warns = append(warns, fmt.Sprintf("%s:%d: doors [%s] and [%s] differ in TCPFlags; profile %s uses %q for both", file, closeDoor.Line, d.Name, closeDoor.Name, p.Name, p.TCPFlags))
			}
		}
		if p.WaitPort != 0 {
			p.Notes += fmt.Sprintf("; wait port %d from its command", p.WaitPort)
		}
		if len(p.Notes) > MaxNotesLen {
			p.Notes = p.Notes[:MaxNotesLen]
		}
		ps = append(ps, p)
	}
	if len(ps) == 0 && len(warns) == 0 {
		warns = append(warns, fmt.Sprintf("%s: no doors", file))
	}
	return ps, warns, nil
}

// profileName makes a valid, unused profile name from a door name.
func profileName(door string, used map[string]bool) string { return uniqueName(door, "door-", used) }

// uniqueName makes a valid profile name of s, unused in used: what is not
// a lower-case letter, a digit or one of "._-@" becomes "-"; a name still
// invalid gets prefix; a taken one a number.
func uniqueName(s, prefix string, used map[string]bool) string {
	var b strings.Builder
	for _, r := range s {
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
		name = prefix + name
	}
	base := name
	for i := 2; used[name]; i++ {
		name = base + "-" + strconv.Itoa(i)
	}
	return name
}

// dport returns N when cmd has exactly one distinct "--dport N".
func dport(cmd string) uint16 {
	var port uint16
	for _, m := range dportRE().FindAllStringSubmatch(cmd, -1) {
		n, err := strconv.Atoi(m[1])
		if err != nil || n < 1 || n > 65535 || (port != 0 && int(port) != n) {
			return 0
		}
		port = uint16(n)
	}
	return port
}
