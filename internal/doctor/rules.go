package doctor

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Ruleset is a parsed iptables-save (or ip6tables-save) dump.
type Ruleset struct {
	File   string
	Tables []*Table
}

// Table is one "*table" block of a dump.
type Table struct {
	Name   string
	Line   int
	Chains []*Chain
	Rules  []*Rule // in file order, all chains
}

// Chain is one ":CHAIN POLICY [packets:bytes]" line; Policy is "-" for a
// user-defined chain.
type Chain struct {
	Name   string
	Policy string
	Line   int
}

// Rule is one "-A CHAIN ..." line.
type Rule struct {
	Line  int
	Chain string
	Text  string // the line as written
	Spec  Spec
}

// Spec is what a rule matches and does, as far as the checks need it.
type Spec struct {
	Proto    string   // -p, lower case; "" for any
	DPorts   []string // --dport, --dports items ("22", "1000:2000")
	Source   string   // -s
	InIface  string   // -i
	CTStates []string // --ctstate or --state items, upper case
	Target   string   // -j
	Negated  bool     // some match is negated with "!"
}

// LineError is a problem at one line of a rules dump.
type LineError struct {
	File string
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// ErrRulesSyntax matches every problem [ParseRules] reports.
var ErrRulesSyntax = errors.New("invalid iptables-save dump")

// maxRulesLine bounds one line of a dump.
const maxRulesLine = 1 << 16

// ParseRules parses an iptables-save dump read from r; file names it in
// messages. It reads everything it can and returns the Ruleset together
// with every problem, joined (each a [*LineError] wrapping
// [ErrRulesSyntax]).
func ParseRules(file string, r io.Reader) (*Ruleset, error) {
	rs := &Ruleset{File: file}
	var errs []error
	bad := func(n int, format string, args ...any) {
		errs = append(errs, &LineError{File: file, Line: n, Err: fmt.Errorf("%w: "+format, append([]any{ErrRulesSyntax}, args...)...)})
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxRulesLine)
	var cur *Table
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#':
		case line[0] == '*':
			if cur != nil {
				bad(n, "table %s starts before COMMIT of table %s", line[1:], cur.Name)
			}
			cur = &Table{Name: line[1:], Line: n}
			rs.Tables = append(rs.Tables, cur)
		case line == "COMMIT":
			if cur == nil {
				bad(n, "COMMIT outside a table")
			}
			cur = nil
		case cur == nil:
			bad(n, "%q outside a table (want *filter first)", clip(line))
		case line[0] == ':':
			f := strings.Fields(line[1:])
			if len(f) < 2 {
				bad(n, "chain line %q (want :CHAIN POLICY [0:0])", clip(line))
				continue
			}
			cur.Chains = append(cur.Chains, &Chain{Name: f[0], Policy: f[1], Line: n})
		case strings.HasPrefix(line, "-A ") || strings.HasPrefix(line, "-I "):
			words, err := splitWords(line)
			if err != nil {
				bad(n, "%v", err)
				continue
			}
			if len(words) < 2 {
				bad(n, "rule without a chain")
				continue
			}
			cur.Rules = append(cur.Rules, &Rule{Line: n, Chain: words[1], Text: line, Spec: parseSpec(words[2:])})
		default:
			bad(n, "unexpected line %q", clip(line))
		}
	}
	if err := sc.Err(); err != nil {
		bad(n+1, "read: %v", err)
	}
	if cur != nil {
		bad(n, "table %s has no COMMIT", cur.Name)
	}
	return rs, errors.Join(errs...)
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}

// Table returns the table of that name, or nil.
func (rs *Ruleset) Table(name string) *Table {
	for _, t := range rs.Tables {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// Chain returns the chain of that name, or nil.
func (t *Table) Chain(name string) *Chain {
	for _, c := range t.Chains {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// splitWords splits a line into words as iptables-save quotes them:
// double quotes group, a backslash escapes the next character.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	in, quoted, esc := false, false, false
	for _, r := range s {
		switch {
		case esc:
			cur.WriteRune(r)
			esc = false
		case r == '\\':
			esc, in = true, true
		case r == '"':
			quoted = !quoted
			in = true
		case !quoted && (r == ' ' || r == '\t'):
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quoted {
		return nil, errors.New("unterminated quote")
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}

// parseSpec reads the matches and target of a rule's words (after the
// chain). Options it does not know are skipped with their argument.
func parseSpec(words []string) Spec {
	var s Spec
	neg := false
	for i := 0; i < len(words); i++ {
		w := words[i]
		arg := ""
		if i+1 < len(words) {
			arg = words[i+1]
		}
		takes := true
		switch w {
		case "!":
			neg = true
			continue
		case "-p", "--protocol":
			s.Proto = strings.ToLower(arg)
		case "--dport", "--destination-port":
			s.DPorts = []string{arg}
		case "--dports", "--destination-ports":
			s.DPorts = strings.Split(arg, ",")
		case "-s", "--source", "--src":
			s.Source = arg
		case "-i", "--in-interface":
			s.InIface = arg
		case "--ctstate", "--state":
			s.CTStates = strings.Split(strings.ToUpper(arg), ",")
		case "-j", "--jump":
			s.Target = arg
		default:
			takes = strings.HasPrefix(w, "-") && arg != "" && !strings.HasPrefix(arg, "-")
		}
		if neg && w != "!" {
			s.Negated = true
			neg = false
		}
		if takes {
			i++
		}
	}
	return s
}

// HasState reports whether the spec matches conntrack state st.
func (s Spec) HasState(st string) bool {
	for _, c := range s.CTStates {
		if c == st {
			return true
		}
	}
	return false
}

// Blocks reports whether the rule drops or rejects every new TCP
// connection to port: a DROP or REJECT without a source, negation or
// state restriction that excludes NEW, for tcp or any protocol, and for
// that port or any port.
func (s Spec) Blocks(port uint16) bool {
	if s.Target != "DROP" && s.Target != "REJECT" {
		return false
	}
	if s.Negated || (s.Source != "" && s.Source != "0.0.0.0/0" && s.Source != "::/0") {
		return false
	}
	if len(s.CTStates) > 0 && !s.HasState("NEW") {
		return false
	}
	if s.Proto != "" && s.Proto != "tcp" && s.Proto != "all" && s.Proto != "6" {
		return false
	}
	return s.HasPort(port)
}

// HasPort reports whether the spec's destination ports include port; no
// --dport means every port.
func (s Spec) HasPort(port uint16) bool {
	if len(s.DPorts) == 0 {
		return true
	}
	for _, d := range s.DPorts {
		lo, hi, isRange := strings.Cut(d, ":")
		if !isRange {
			hi = lo
		}
		var a, b int
		if _, err := fmt.Sscan(lo, &a); err != nil {
			continue
		}
		if hi == "" {
			b = 65535
		} else if _, err := fmt.Sscan(hi, &b); err != nil {
			continue
		}
		if int(port) >= a && int(port) <= b {
			return true
		}
	}
	return false
}
