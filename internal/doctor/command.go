package doctor

import (
	"path"
	"strings"
)

// invocation is one simple command inside a door's shell command line.
type invocation struct {
	Prog string   // first word, as written
	Args []string // the other words, redirections dropped
}

// firewallCall is an iptables-family invocation.
type firewallCall struct {
	Tool  string // base name: iptables, ip6tables, nft ...
	IPv6  bool
	Op    string // -A, -I, -D, -C ...
	Chain string
	Table string
	Spec  Spec
}

// shellSeparators split a command line into simple commands. Quotes are not
// honoured: door commands that need them are rare, and a split inside a
// quoted string only makes a check see an extra word.
var shellSeparators = strings.NewReplacer("&&", "\n", "||", "\n", ";", "\n", "|", "\n", "&", "\n", "(", "\n", ")", "\n", "`", "\n", "$(", "\n")

// shellWords are builtins and keywords that need no path.
var shellWords = map[string]bool{
	":": true, "true": true, "false": true, "[": true, "test": true, "echo": true, "printf": true,
	"exit": true, "cd": true, "if": true, "then": true, "else": true, "elif": true, "fi": true,
	"for": true, "while": true, "until": true, "do": true, "done": true, "case": true, "esac": true,
	"export": true, "set": true, "exec": true, "command": true, "{": true, "}": true, "!": true,
	"local": true, "return": true, "read": true, "eval": true, "wait": true, "trap": true, "shift": true,
}

// splitCommand returns the simple commands of a shell command line.
func splitCommand(cmd string) []invocation {
	var out []invocation
	for _, part := range strings.Split(shellSeparators.Replace(cmd), "\n") {
		words := strings.Fields(part)
		var kept []string
		for i := 0; i < len(words); i++ {
			w := words[i]
			// Drop redirections (2>/dev/null, > file) and leading
			// variable assignments (PATH=... cmd).
			if isRedirect(w) {
				if strings.TrimLeft(w, "0123456789") == ">" || strings.TrimLeft(w, "0123456789") == "<" || w == ">>" {
					i++ // the target is the next word
				}
				continue
			}
			if len(kept) == 0 && strings.Contains(w, "=") && !strings.HasPrefix(w, "=") && !strings.HasPrefix(w, "-") {
				continue
			}
			kept = append(kept, w)
		}
		if len(kept) == 0 {
			continue
		}
		// sudo, env and nohup run the next word.
		for len(kept) > 1 && (kept[0] == "sudo" || kept[0] == "env" || kept[0] == "nohup" ||
			path.Base(kept[0]) == "sudo" || path.Base(kept[0]) == "env") {
			kept = kept[1:]
		}
		out = append(out, invocation{Prog: kept[0], Args: kept[1:]})
	}
	return out
}

func isRedirect(w string) bool {
	t := strings.TrimLeft(w, "0123456789&")
	return strings.HasPrefix(t, ">") || strings.HasPrefix(t, "<")
}

// relativeProgs returns the programs of cmd that are neither absolute
// paths nor shell builtins, and not placeholders.
func relativeProgs(cmd string) []string {
	var rel []string
	for _, inv := range splitCommand(cmd) {
		p := inv.Prog
		if strings.HasPrefix(p, "/") || shellWords[p] || strings.HasPrefix(p, "$") || strings.HasPrefix(p, "%") {
			continue
		}
		rel = append(rel, p)
	}
	return rel
}

// firewallCalls returns the iptables and ip6tables invocations of cmd.
func firewallCalls(cmd string) []firewallCall {
	var out []firewallCall
	for _, inv := range splitCommand(cmd) {
		tool := path.Base(inv.Prog)
		var v6 bool
		switch tool {
		case "iptables", "iptables-legacy", "iptables-nft":
		case "ip6tables", "ip6tables-legacy", "ip6tables-nft":
			v6 = true
		default:
			continue
		}
		fc := firewallCall{Tool: tool, IPv6: v6, Table: "filter"}
		var rest []string
		for i := 0; i < len(inv.Args); i++ {
			a := inv.Args[i]
			switch {
			case a == "-t" || a == "--table":
				if i+1 < len(inv.Args) {
					fc.Table = inv.Args[i+1]
					i++
				}
			case fc.Op == "" && isOp(a):
				fc.Op = normOp(a)
				if i+1 < len(inv.Args) {
					fc.Chain = inv.Args[i+1]
					i++
				}
				// -I CHAIN N: skip a rule number.
				if fc.Op == "-I" && i+1 < len(inv.Args) && isNumber(inv.Args[i+1]) {
					i++
				}
			default:
				rest = append(rest, a)
			}
		}
		fc.Spec = parseSpec(rest)
		out = append(out, fc)
	}
	return out
}

func isOp(a string) bool {
	switch a {
	case "-A", "--append", "-I", "--insert", "-D", "--delete", "-C", "--check", "-R", "--replace":
		return true
	}
	return false
}

func normOp(a string) string {
	switch a {
	case "--append":
		return "-A"
	case "--insert":
		return "-I"
	case "--delete":
		return "-D"
	case "--check":
		return "-C"
	case "--replace":
		return "-R"
	}
	return a
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// revokes reports whether cmd takes access away: it deletes a firewall
// rule or a set element, or runs something named like a closer.
func revokes(cmd string) bool {
	for _, inv := range splitCommand(cmd) {
		for _, a := range inv.Args {
			if a == "-D" || a == "--delete" || a == "delete" || a == "del" {
				return true
			}
		}
		base := strings.ToLower(path.Base(inv.Prog))
		if strings.Contains(base, "close") || strings.Contains(base, "remove") || strings.Contains(base, "revoke") || strings.Contains(base, "del") {
			return true
		}
	}
	return false
}
