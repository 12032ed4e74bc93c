package profiles

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
)

// EnvSSHConfig names the environment variable that points knock at
// another ssh_config file (as ssh -F does); the -F flag wins over it.
const EnvSSHConfig = "KNOCK_SSH_CONFIG"

// SSHHost is what an ssh_config file says about one host alias.
type SSHHost struct {
	Alias    string
	HostName string // HostName with %h expanded; "" when not set
	Port     uint16 // 0 when not set
	User     string
	Family   string // AddressFamily: "any", "inet", "inet6" or ""
	// HasEntry reports whether a Host block other than the catch-all
	// "Host *" matches the alias.
	HasEntry bool
}

// SSHConfig is a parsed ssh_config file, Includes followed.
type SSHConfig struct {
	Path  string
	cfg   *ssh_config.Config
	hosts []*ssh_config.Host // every Host block, Includes flattened
}

// SSHConfigPath returns the ssh_config file to read: flag when set, else
// $KNOCK_SSH_CONFIG, else ~/.ssh/config. explicit is false for the last.
func SSHConfigPath(flag string) (path string, explicit bool) {
	if flag != "" {
		return flag, true
	}
	if env := os.Getenv(EnvSSHConfig); env != "" {
		return env, true
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", false
	}
	return filepath.Join(home, ".ssh", "config"), false
}

// LoadSSHConfig parses the file at path. A missing file is an empty
// configuration unless explicit (the user named it).
func LoadSSHConfig(path string, explicit bool) (*SSHConfig, error) {
	c := &SSHConfig{Path: path}
	if path == "" {
		c.cfg, _ = ssh_config.DecodeBytes(nil)
		return c, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		c.cfg, _ = ssh_config.DecodeBytes(nil)
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ssh config: %w", err)
	}
	if c.hosts, err = scanHosts(path, 0); err != nil {
		return nil, fmt.Errorf("ssh config %v", err)
	}
	if c.cfg, err = decodeSSH(absIncludes(b)); err != nil {
		return nil, fmt.Errorf("ssh config %s: %v", path, err)
	}
	return c, nil
}

// decodeSSH parses with the library, which reports errors by panicking
// internally; it recovers what it can, and so do we.
func decodeSSH(b []byte) (cfg *ssh_config.Config, err error) {
	defer func() {
		if r := recover(); r != nil {
			cfg, err = nil, fmt.Errorf("malformed: %v", r)
		}
	}()
	cfg, err = ssh_config.DecodeBytes(b)
	if err != nil {
		return nil, fmt.Errorf("line %s", strings.TrimSpace(err.Error()))
	}
	return cfg, nil
}

// sshHome is the directory relative Include paths start from.
func sshHome() string {
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".ssh")
}

// absIncludes rewrites relative Include arguments of the top-level file
// to absolute paths under $HOME/.ssh, as ssh resolves them; the library
// would use the password database's home instead of $HOME.
func absIncludes(b []byte) []byte {
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		key, args := splitKV(line)
		if strings.EqualFold(key, "include") && args != "" {
			var abs []string
			for _, a := range strings.Fields(args) {
				abs = append(abs, includePath(a))
			}
			indent := line[:len(line)-len(strings.TrimLeft(line, " \t"))]
			line = indent + "Include " + strings.Join(abs, " ")
		}
		out.WriteString(line)
		out.WriteByte('\n')
	}
	return out.Bytes()
}

func includePath(a string) string {
	switch {
	case filepath.IsAbs(a):
		return a
	case strings.HasPrefix(a, "~/"):
		home, _ := os.UserHomeDir()
		return filepath.Join(home, a[2:])
	}
	return filepath.Join(sshHome(), a)
}

// splitKV splits an ssh_config line into keyword and arguments.
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

// scanHosts checks every line as ssh would (a keyword with arguments,
// balanced quotes, numeric Port, known AddressFamily) and collects every
// Host block's patterns, following Includes (at most 5 deep, as ssh),
// for HasEntry and for completion.
func scanHosts(path string, depth int) ([]*ssh_config.Host, error) {
	if depth > 5 {
		return nil, errors.New("Include nested too deeply")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		if depth > 0 && errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var hosts []*ssh_config.Host
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		key, args := splitKV(line)
		if err := checkLine(key, args); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, n, err)
		}
		switch strings.ToLower(key) {
		case "host":
			h := &ssh_config.Host{}
			for _, f := range strings.Fields(args) {
				if p, err := ssh_config.NewPattern(f); err == nil {
					h.Patterns = append(h.Patterns, p)
				}
			}
			hosts = append(hosts, h)
		case "include":
			for _, a := range strings.Fields(args) {
				matches, _ := filepath.Glob(includePath(a))
				for _, m := range matches {
					hs, err := scanHosts(m, depth+1)
					if err != nil {
						return nil, err
					}
					hosts = append(hosts, hs...)
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return hosts, nil
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
			return fmt.Errorf("Port: badly formatted port number %q", args)
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

// Lookup returns what the configuration says about alias.
func (c *SSHConfig) Lookup(alias string) (SSHHost, error) {
	h := SSHHost{Alias: alias}
	get := func(key string) (string, error) {
		v, err := c.cfg.Get(alias, key)
		if err != nil {
			return "", fmt.Errorf("ssh config %s: host %s: %s: %v", c.Path, alias, key, err)
		}
		return strings.TrimSpace(v), nil
	}
	var err error
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
	for _, hb := range c.hosts {
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

// HostNames returns the concrete host names of Host blocks (patterns
// without wildcards or negation), Includes followed, in file order.
func (c *SSHConfig) HostNames() []string {
	var names []string
	seen := map[string]bool{}
	for _, h := range c.hosts {
		for _, p := range h.Patterns {
			s := p.String()
			if strings.ContainsAny(s, "*?!") || seen[s] {
				continue
			}
			seen[s] = true
			names = append(names, s)
		}
	}
	return names
}
