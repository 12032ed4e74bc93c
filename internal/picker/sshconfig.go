package picker

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ScanSSHConfig lists the concrete Host aliases of an ssh_config file and
// their HostName, following Include (5 deep, as ssh). It is a lenient,
// line-based reader for display only: a malformed line is reported with
// its file and line number, and the rest of the file is still read. It
// never resolves names.
func ScanSSHConfig(path string) ([]Entry, []error) {
	s := &scanner{seen: map[string]int{}}
	s.file(path, 0)
	return s.entries, s.errs
}

// maxConfigSize bounds what one ssh_config file may hold.
const maxConfigSize = 16 << 20

type scanner struct {
	entries []Entry
	seen    map[string]int
	errs    []error
}

func (s *scanner) file(path string, depth int) {
	if depth > 5 {
		s.errs = append(s.errs, fmt.Errorf("%s: Include nested too deeply", path))
		return
	}
	st, err := os.Stat(path)
	if err != nil {
		if depth == 0 && os.IsNotExist(err) {
			return
		}
		s.errs = append(s.errs, err)
		return
	}
	if !st.Mode().IsRegular() || st.Size() > maxConfigSize {
		s.errs = append(s.errs, fmt.Errorf("%s: not a regular file of at most %d bytes", path, maxConfigSize))
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		s.errs = append(s.errs, err)
		return
	}
	var current []int // entries of the Host block being read
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		key, val, ok := cutKeyword(line)
		if !ok {
			s.errs = append(s.errs, fmt.Errorf("%s line %d: malformed line %q", path, n, line))
			continue
		}
		switch strings.ToLower(key) {
		case "host":
			current = current[:0]
			for _, pat := range strings.Fields(val) {
				if strings.ContainsAny(pat, "*?!") {
					continue
				}
				i, dup := s.seen[pat]
				if !dup {
					i = len(s.entries)
					s.seen[pat] = i
					s.entries = append(s.entries, Entry{Name: pat})
				}
				current = append(current, i)
			}
		case "match":
			current = current[:0]
		case "hostname":
			for _, i := range current {
				if s.entries[i].Host == "" {
					s.entries[i].Host = strings.ReplaceAll(val, "%h", s.entries[i].Name)
				}
			}
		case "include":
			for _, pat := range strings.Fields(val) {
				matches, _ := filepath.Glob(includePath(path, pat))
				for _, m := range matches {
					s.file(m, depth+1)
				}
			}
		}
	}
}

// cutKeyword splits "Keyword value" or "Keyword=value".
func cutKeyword(line string) (key, val string, ok bool) {
	i := strings.IndexAny(line, " \t=")
	if i <= 0 {
		return "", "", false
	}
	key = line[:i]
	val = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line[i:]), "="))
	for _, r := range key {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return "", "", false
		}
	}
	return key, val, val != ""
}

func includePath(from, pat string) string {
	switch {
	case filepath.IsAbs(pat):
		return pat
	case strings.HasPrefix(pat, "~/"):
		home, _ := os.UserHomeDir()
		return filepath.Join(home, pat[2:])
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".ssh", pat)
}
