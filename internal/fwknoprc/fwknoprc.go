// Package fwknoprc reads the fwknop client's ~/.fwknoprc as fwknop 2.6.10's
// client does (client/config_init.c): stanzas of "NAME VALUE" lines,
// [default] applied before the named stanza, line by line. It resolves a
// stanza into a [Config], turns it into the spa package's keys, request
// and transport, and names, with their line numbers, the settings knock
// cannot honour, so that an import never silently drops one. Errors name
// file:line; key values never appear in them.
package fwknoprc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/a-knock/knock/internal/safeio"
)

// DefaultStanza is the stanza applied before every named one.
const DefaultStanza = "default"

// ErrSyntax is wrapped by every parse error.
var ErrSyntax = errors.New("fwknoprc syntax error")

// ErrNoStanza is returned by [File.Resolve] for a name the file lacks.
var ErrNoStanza = errors.New("no such stanza")

// Var is one "NAME VALUE" line.
type Var struct {
	Name  string // as written (fwknop matches names case-sensitively), from the last ':' on removed
	Value string
	Line  int
}

// Stanza is one "[name]" section.
type Stanza struct {
	Name string
	Line int
	Vars []Var
}

// File is a parsed fwknoprc.
type File struct {
	Path    string    // as given to Parse, for messages
	Default *Stanza   // nil when the file has no [default]
	Named   []*Stanza // in file order
}

// maxLine bounds a line; fwknop's own limit is far lower.
const maxLine = 64 << 10

// ParseFile reads and parses the file at path.
func ParseFile(path string) (*File, error) {
	b, err := safeio.ReadFile(path, safeio.ConfigLimit)
	if err != nil {
		return nil, err
	}
	return Parse(path, bytes.NewReader(b))
}

// Parse parses an fwknoprc read from r; file names it in errors.
func Parse(file string, r io.Reader) (*File, error) {
	f := &File{Path: file}
	seen := map[string]int{}
	var cur *Stanza
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxLine)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			end := strings.IndexByte(line, ']')
			name := ""
			if end > 0 {
				name = strings.TrimSpace(line[1:end])
			}
			// As in fwknop, text after ']' is ignored.
			if end < 0 || name == "" {
				return nil, f.errorf(n, "malformed stanza header (want [name])")
			}
			// fwknop reads every section of the name, ignoring case:
			// a repeated stanza continues the first.
			key := strings.ToLower(name)
			if i, ok := seen[key]; ok {
				if i < 0 {
					cur = f.Default
				} else {
					cur = f.Named[i]
				}
				continue
			}
			cur = &Stanza{Name: name, Line: n}
			if key == DefaultStanza {
				f.Default = cur
				seen[key] = -1
			} else {
				seen[key] = len(f.Named)
				f.Named = append(f.Named, cur)
			}
			continue
		}
		name, rest := splitField(line)
		if i := strings.LastIndexByte(name, ':'); i >= 0 {
			name = name[:i]
		}
		if name == "" {
			return nil, f.errorf(n, "missing variable name")
		}
		value, _ := splitField(rest)
		if value == "" {
			return nil, f.errorf(n, "%s has no value", name)
		}
		if cur == nil {
			return nil, f.errorf(n, "%s appears before any [stanza]", name)
		}
		cur.Vars = append(cur.Vars, Var{Name: name, Value: value, Line: n})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w: %v", file, n+1, ErrSyntax, err)
	}
	return f, nil
}

// splitField returns the first token of s, ended by space, tab, ';' or
// '#', and what follows it with leading blanks removed.
func splitField(s string) (field, rest string) {
	s = strings.TrimLeft(s, " \t")
	i := strings.IndexAny(s, " \t;#")
	if i < 0 {
		return s, ""
	}
	if s[i] == ';' || s[i] == '#' {
		return s[:i], ""
	}
	return s[:i], strings.TrimLeft(s[i:], " \t")
}

func (f *File) errorf(line int, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %w: %s", f.Path, line, ErrSyntax, fmt.Sprintf(format, args...))
}

// Names returns the named stanzas' names in file order.
func (f *File) Names() []string {
	out := make([]string, 0, len(f.Named))
	for _, s := range f.Named {
		out = append(out, s.Name)
	}
	return out
}

// Stanza returns the named stanza, matched ignoring case as fwknop
// does, or nil.
func (f *File) Stanza(name string) *Stanza {
	if strings.EqualFold(name, DefaultStanza) {
		return f.Default
	}
	for _, s := range f.Named {
		if strings.EqualFold(s.Name, name) {
			return s
		}
	}
	return nil
}

// LooksLike reports whether data reads as an fwknoprc rather than, say, a
// knockd.conf: some line sets a variable fwknop's client knows, and no
// line sets knockd's "sequence".
func LooksLike(data []byte) bool {
	found := false
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '[' {
			continue
		}
		if k, _, ok := strings.Cut(line, "="); ok {
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "sequence", "one_time_sequences", "open_sequence", "close_sequence":
				return false
			}
		}
		name, _ := splitField(line)
		if known(strings.ToUpper(strings.TrimSuffix(name, ":"))) {
			found = true
		}
	}
	return found
}
