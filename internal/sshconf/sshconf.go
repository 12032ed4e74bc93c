// Package sshconf is knock's one reader of ssh_config: what `knock NAME`,
// `knock ssh`, `knock pick`, completion and doctor learn about a host
// alias (HostName, Port, User, AddressFamily) and which concrete Host
// aliases exist.
//
// Host lookups use github.com/kevinburke/ssh_config. Include is followed
// here, not by the library, so that every file is read with a size limit
// and only when it is a regular file: the included files are inlined into
// one text, and the enclosing Host block is restored after each of them,
// as ssh does. Match blocks depend on things only ssh knows (the local
// user, the result of `exec`); [Config.Lookup] ignores them, and callers
// that need them ask ssh itself with [G] when [Config.HasMatch] is set.
package sshconf

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kevinburke/ssh_config"

	"github.com/a-knock/knock/internal/safeio"
)

// EnvConfig names the environment variable that points knock at another
// ssh_config file (as ssh -F does); the -F flag wins over it.
const EnvConfig = "KNOCK_SSH_CONFIG"

// Limits: each file as any config file, all of them together, and the
// Include depth (ssh's READCONF_MAX_DEPTH).
const (
	maxTotal = 16 << 20
	maxDepth = 16
)

// Host is what an ssh_config file says about one host alias.
type Host struct {
	Alias    string
	HostName string // HostName with %h expanded; "" when not set
	Port     uint16 // 0 when not set
	User     string
	Family   string // AddressFamily: "any", "inet", "inet6" or ""
	// HasEntry reports whether a Host block other than the catch-all
	// "Host *" matches the alias.
	HasEntry bool
}

// Entry is a concrete Host alias and its HostName, for listings.
type Entry struct {
	Alias    string
	HostName string // "" when not set
}

// Config is a parsed ssh_config file, Includes inlined.
type Config struct {
	// Path is the file read.
	Path string
	// Problems are the lines ssh would refuse, as "file:line: what";
	// they were skipped. Knocking treats them as errors; the picker
	// shows them as warnings.
	Problems []error
	// HasMatch reports a Match block other than "Match all": its
	// settings are not in Lookup's answers.
	HasMatch bool

	cfg *ssh_config.Config
}

// Path returns the ssh_config file to read: flag when set, else
// $KNOCK_SSH_CONFIG, else ~/.ssh/config. explicit is false for the last.
func Path(flag string) (path string, explicit bool) {
	if flag != "" {
		return flag, true
	}
	if env := os.Getenv(EnvConfig); env != "" {
		return env, true
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", false
	}
	return filepath.Join(home, ".ssh", "config"), false
}

// Load reads the file at path and the files it includes. A missing file
// is an empty configuration unless explicit (the user named it); so is
// /dev/null, as for ssh -F. An
// unreadable file, one that is not a regular file or one over its size
// limit is an error naming it; malformed lines go to [Config.Problems].
func Load(path string, explicit bool) (*Config, error) {
	c := &Config{Path: path}
	f := &flattener{c: c}
	// -F /dev/null is ssh's idiom for "no configuration".
	if path != "" && path != os.DevNull {
		if err := f.file(path, 0, !explicit); err != nil {
			return nil, fmt.Errorf("ssh config: %w", err)
		}
	}
	cfg, err := decode(f.buf.Bytes(), f.origins)
	if err != nil {
		return nil, fmt.Errorf("ssh config %v", err)
	}
	c.cfg = cfg
	return c, nil
}

// Err returns the first problem, or nil.
func (c *Config) Err() error {
	if len(c.Problems) == 0 {
		return nil
	}
	return c.Problems[0]
}

// flattener inlines Includes into one text, remembering where each line
// came from.
type flattener struct {
	c       *Config
	buf     bytes.Buffer
	origins []string // "file:line" of each line of buf
	total   int64
}

func (f *flattener) emit(line, origin string) {
	f.buf.WriteString(line)
	f.buf.WriteByte('\n')
	f.origins = append(f.origins, origin)
}

func (f *flattener) problem(format string, args ...any) {
	f.c.Problems = append(f.c.Problems, fmt.Errorf(format, args...))
}

// file inlines path. A missing file is skipped when missingOK.
func (f *flattener) file(path string, depth int, missingOK bool) error {
	b, err := safeio.ReadFile(path, safeio.ConfigLimit)
	if errors.Is(err, fs.ErrNotExist) && missingOK {
		return nil
	}
	if err != nil {
		return err
	}
	if f.total += int64(len(b)); f.total > maxTotal {
		return fmt.Errorf("%s: the files it includes hold over %s", f.c.Path, safeio.Size(maxTotal))
	}
	// The block that lines are in: ssh restores it after an Include, so
	// that Host lines of the included file do not leak out.
	block := "Host *"
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), safeio.ConfigLimit)
	for n := 1; sc.Scan(); n++ {
		at := fmt.Sprintf("%s:%d", path, n)
		line := sc.Text()
		if t := strings.TrimSpace(line); t == "" || t[0] == '#' {
			f.emit("", at)
			continue
		}
		key, args := splitKV(line)
		if err := checkLine(key, args); err != nil {
			f.problem("%s: %v", at, err)
			f.emit("", at)
			continue
		}
		switch strings.ToLower(key) {
		case "host":
			block = "Host " + args
			f.emit(block, at)
		case "match":
			block = matchBlock(args)
			if block != "Host *" {
				f.c.HasMatch = true
			}
			f.emit(block, at)
		case "include":
			f.emit("", at)
			if depth+1 > maxDepth {
				f.problem("%s: Include nested more than %d deep", at, maxDepth)
				continue
			}
			for _, a := range strings.Fields(args) {
				matches, err := filepath.Glob(includePath(a))
				if err != nil {
					f.problem("%s: Include %q: %v", at, a, err)
					continue
				}
				for _, m := range matches {
					if err := f.file(m, depth+1, true); err != nil {
						return fmt.Errorf("%s: Include: %w", at, err)
					}
					f.emit(block, at)
				}
			}
		default:
			f.emit(line, at)
		}
	}
	return sc.Err()
}

// matchBlock stands in for a Match line: "Match all" applies to every
// host; any other Match cannot be decided here, so its block applies to
// no host (a pattern that only negates matches nothing).
func matchBlock(args string) string {
	if strings.EqualFold(strings.TrimSpace(args), "all") {
		return "Host *"
	}
	return "Host !*"
}

// decode parses with the library, which reports errors by panicking
// internally and recovers what it can; so do we. Line numbers in its
// errors are mapped back to file:line.
func decode(b []byte, origins []string) (cfg *ssh_config.Config, err error) {
	defer func() {
		if r := recover(); r != nil {
			cfg, err = nil, fmt.Errorf("malformed: %v", r)
		}
	}()
	cfg, err = ssh_config.DecodeBytes(b)
	if err != nil {
		msg := strings.TrimSpace(err.Error())
		// The library says "N:C: message" for line N of its input.
		if ln, rest, ok := strings.Cut(msg, ":"); ok {
			if n, aerr := strconv.Atoi(ln); aerr == nil && n >= 1 && n <= len(origins) {
				_, rest, _ = strings.Cut(rest, ":")
				return nil, fmt.Errorf("%s: %s", origins[n-1], strings.TrimSpace(rest))
			}
		}
		return nil, errors.New(msg)
	}
	return cfg, nil
}

// includePath resolves an Include argument as ssh does for a user's
// config: absolute, ~/..., or relative to ~/.ssh. (The library would use
// the password database's home instead of $HOME.)
func includePath(a string) string {
	home, _ := os.UserHomeDir()
	switch {
	case filepath.IsAbs(a):
		return a
	case strings.HasPrefix(a, "~/"):
		return filepath.Join(home, a[2:])
	}
	return filepath.Join(home, ".ssh", a)
}

// splitKV splits an ssh_config line into keyword and arguments; a blank
// line or a comment gives "".
func splitKV(line string) (string, string) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return "", ""
	}
	i := strings.IndexAny(line, " \t=")
	if i < 0 {
		return line, ""
	}
	key, rest := line[:i], strings.TrimLeft(line[i:], " \t")
	rest = strings.TrimLeft(strings.TrimPrefix(rest, "="), " \t")
	if j := strings.Index(rest, " #"); j >= 0 {
		rest = rest[:j]
	}
	return key, strings.TrimSpace(rest)
}

// checkLine rejects what ssh itself refuses to read.
func checkLine(key, args string) error {
	if key == "" {
		return errors.New("malformed line: no keyword")
	}
	for _, r := range key {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return fmt.Errorf("malformed line: keyword %q", key)
		}
	}
	if args == "" {
		return fmt.Errorf("%s: missing argument", key)
	}
	if strings.Count(args, `"`)%2 != 0 {
		return fmt.Errorf("%s: unbalanced quotes", key)
	}
	switch strings.ToLower(key) {
	case "port":
		if n, err := strconv.ParseUint(args, 10, 16); err != nil || n == 0 {
			return fmt.Errorf("badly formatted port number %q after Port", args)
		}
	case "addressfamily":
		switch strings.ToLower(args) {
		case "any", "inet", "inet6":
		default:
			return fmt.Errorf("AddressFamily: %q (want any, inet or inet6)", args)
		}
	}
	return nil
}

// Lookup returns what the configuration says about alias, Match blocks
// aside.
func (c *Config) Lookup(alias string) (h Host, err error) {
	h = Host{Alias: alias}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("ssh config %s: host %s: %v", c.Path, alias, r)
		}
	}()
	get := func(key string) (string, error) {
		v, err := c.cfg.Get(alias, key)
		if err != nil {
			return "", fmt.Errorf("ssh config %s: host %s: %s: %v", c.Path, alias, key, err)
		}
		return strings.TrimSpace(v), nil
	}
	if h.HostName, err = get("HostName"); err != nil {
		return h, err
	}
	h.HostName = expandTokens(h.HostName, alias)
	if h.User, err = get("User"); err != nil {
		return h, err
	}
	port, err := get("Port")
	if err != nil {
		return h, err
	}
	if port != "" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 {
			return h, fmt.Errorf("ssh config %s: host %s: invalid Port %q", c.Path, alias, port)
		}
		h.Port = uint16(n)
	}
	fam, err := get("AddressFamily")
	if err != nil {
		return h, err
	}
	switch fam = strings.ToLower(fam); fam {
	case "", "any", "inet", "inet6":
		h.Family = fam
	default:
		return h, fmt.Errorf("ssh config %s: host %s: invalid AddressFamily %q (want any, inet or inet6)", c.Path, alias, fam)
	}
	for _, hb := range c.cfg.Hosts {
		if !catchAll(hb) && hb.Matches(alias) {
			h.HasEntry = true
			break
		}
	}
	return h, nil
}

func catchAll(h *ssh_config.Host) bool {
	for _, p := range h.Patterns {
		if p.String() != "*" {
			return false
		}
	}
	return true
}

// expandTokens expands the HostName tokens %h (the alias) and %%.
func expandTokens(s, alias string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	return strings.NewReplacer("%%", "%", "%h", alias).Replace(s)
}

// Hosts returns the concrete Host aliases (patterns without wildcards or
// negation), Includes followed, in file order, each with the HostName
// that [Config.Lookup] gives it.
//
// It answers in one pass rather than a Lookup per alias, which would
// match every alias against every block: the picker lists thousands of
// hosts before its first frame. A block of literal names only settles
// HostName for those names through a map; the blocks with wildcards or
// negation that set HostName, few in any real file, are matched per
// alias, and the earlier of the two answers wins, as in ssh.
func (c *Config) Hosts() []Entry {
	// hostName is a block that sets HostName, at index in the file.
	type hostName struct {
		index int
		host  *ssh_config.Host
		value string
	}
	var (
		es      []Entry
		seen    = map[string]bool{}
		literal = map[string]hostName{} // the first literal block that names the alias
		wild    []hostName
	)
	for i, h := range c.cfg.Hosts {
		allLiteral := len(h.Patterns) > 0
		for _, p := range h.Patterns {
			s := p.String()
			if s == "" || strings.ContainsAny(s, "*?!") {
				allLiteral = false
				continue
			}
			if !seen[s] {
				seen[s] = true
				es = append(es, Entry{Alias: s})
			}
		}
		value, ok := firstValue(h, "hostname")
		switch {
		case !ok:
		case allLiteral:
			for _, p := range h.Patterns {
				if _, done := literal[p.String()]; !done {
					literal[p.String()] = hostName{i, h, value}
				}
			}
		default:
			wild = append(wild, hostName{i, h, value})
		}
	}
	for k := range es {
		alias := es[k].Alias
		first, ok := literal[alias]
		if !ok {
			first.index = len(c.cfg.Hosts)
		}
		for _, w := range wild {
			if w.index >= first.index {
				break
			}
			if w.host.Matches(alias) {
				first = w
				break
			}
		}
		es[k].HostName = expandTokens(strings.TrimSpace(first.value), alias)
	}
	return es
}

// firstValue returns the first value of key (lower case) in the block.
func firstValue(h *ssh_config.Host, key string) (string, bool) {
	for _, n := range h.Nodes {
		if kv, ok := n.(*ssh_config.KV); ok && strings.ToLower(kv.Key) == key {
			return kv.Value, true
		}
	}
	return "", false
}
