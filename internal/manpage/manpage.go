// Package manpage renders a command tree as one roff man page: the
// synopsis of every command, its description, its flags, the examples,
// the exit status and a SEE ALSO list. [Markdown] renders one command of
// the same tree as a section of a markdown page, for docs/. The tree is
// plain data ([Command]), which cmd/knock reads off its cobra commands. It
// does no work at init, so a command that calls it adds nothing to the
// program's start-up cost.
package manpage

import (
	"fmt"
	"io"
	"strings"
)

// Command is one command of the tree as a reference shows it.
type Command struct {
	Path string // "knock ssh"
	// Uses are the synopsis lines after Path: "[flags] NAME [-- SSH-ARGS...]";
	// nil for a command that only groups subcommands.
	Uses    []string
	Short   string
	Long    string // the description; Short when empty
	Example string
	Flags   []Flag // the command's own flags, sorted
}

// Flag is one documented flag.
type Flag struct {
	Name, Shorthand string
	Var             string // the value's name: "PORT", "string"; "" for a switch
	Usage           string
	Default         string // "" when not worth printing
	Deprecated      string
}

// Page holds what the command tree does not know about its man page.
type Page struct {
	Section string // manual section, "1" when empty
	Date    string // shown in the footer, for example "2026-11-25"; may be empty
	Source  string // shown in the footer, for example "knock 1.2.0"
	Manual  string // shown in the header, "User Commands" when empty

	// ExitStatus lists the exit codes in order; ExitNote follows them.
	ExitStatus []Exit
	ExitNote   string

	// SeeAlso names related pages, for example "knockd(1)".
	SeeAlso []string
}

// Exit is one documented exit code.
type Exit struct {
	Code    int
	Meaning string
}

// Write renders the tree as one man page: cmds[0] is the root command,
// the others its subcommands in the order to show them.
func Write(w io.Writer, cmds []Command, p Page) error {
	if len(cmds) == 0 {
		return fmt.Errorf("manpage: no command")
	}
	root := cmds[0]
	if p.Section == "" {
		p.Section = "1"
	}
	if p.Manual == "" {
		p.Manual = "User Commands"
	}
	var b strings.Builder
	name := root.Path
	b.WriteString(`.\" Generated from the command tree of ` + name + "; do not edit.\n")
	fmt.Fprintf(&b, ".TH %s %s %s %s %s\n", quote(strings.ToUpper(name)), p.Section,
		quote(p.Date), quote(p.Source), quote(p.Manual))

	b.WriteString(".SH NAME\n")
	b.WriteString(escapeLine(name+" - "+strings.ReplaceAll(root.Short, "\n", " ")) + "\n")

	b.WriteString(".SH SYNOPSIS\n")
	for i, c := range cmds {
		if i > 0 {
			b.WriteString(".br\n")
		}
		synopsis(&b, c)
	}

	b.WriteString(".SH DESCRIPTION\n")
	text(&b, description(root))

	if len(root.Flags) > 0 {
		b.WriteString(".SH OPTIONS\n")
		flags(&b, root.Flags)
	}

	if len(cmds) > 1 {
		b.WriteString(".SH COMMANDS\n")
		for _, c := range cmds[1:] {
			b.WriteString(".SS " + quote(c.Path) + "\n")
			synopsis(&b, c)
			text(&b, description(c))
			if len(c.Flags) > 0 {
				b.WriteString(".PP\nOptions:\n")
				flags(&b, c.Flags)
			}
		}
	}

	if hasExamples(cmds) {
		b.WriteString(".SH EXAMPLES\n")
		for i, c := range cmds {
			if c.Example == "" {
				continue
			}
			if i > 0 {
				b.WriteString(".PP\n" + bold(c.Path) + ":\n")
			}
			preformatted(&b, strings.Split(strings.TrimRight(c.Example, "\n"), "\n"))
		}
	}

	if len(p.ExitStatus) > 0 {
		b.WriteString(".SH EXIT STATUS\n")
		for _, e := range p.ExitStatus {
			fmt.Fprintf(&b, ".TP\n.B %d\n%s\n", e.Code, escapeLine(e.Meaning))
		}
		if p.ExitNote != "" {
			text(&b, p.ExitNote)
		}
	}

	if len(p.SeeAlso) > 0 {
		b.WriteString(".SH SEE ALSO\n")
		refs := make([]string, len(p.SeeAlso))
		for i, s := range p.SeeAlso {
			refs[i] = seeAlso(s)
		}
		b.WriteString(strings.Join(refs, ",\n") + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func hasExamples(cmds []Command) bool {
	for _, c := range cmds {
		if c.Example != "" {
			return true
		}
	}
	return false
}

func description(c Command) string {
	if c.Long != "" {
		return c.Long
	}
	return c.Short
}

// synopsis writes the command's path in bold and its arguments in roman.
func synopsis(b *strings.Builder, c Command) {
	if c.Uses == nil {
		b.WriteString(bold(c.Path) + " " + escape("COMMAND ...") + "\n")
		return
	}
	for i, args := range c.Uses {
		if i > 0 {
			b.WriteString(".br\n")
		}
		line := bold(c.Path)
		if args != "" {
			line += " " + escape(flat(args))
		}
		b.WriteString(line + "\n")
	}
}

// flags writes one tagged paragraph per flag.
func flags(b *strings.Builder, fs []Flag) {
	for _, f := range fs {
		tag := ""
		if f.Shorthand != "" {
			tag = bold("-"+flat(f.Shorthand)) + ", "
		}
		tag += bold("--" + flat(f.Name))
		if f.Var != "" {
			tag += " " + italic(flat(f.Var))
		}
		usage := f.Usage
		if f.Deprecated != "" {
			usage += " (deprecated: " + f.Deprecated + ")"
		}
		if f.Default != "" {
			usage += " (default " + f.Default + ")"
		}
		b.WriteString(".TP\n" + tag + "\n" + escapeLine(usage) + "\n")
	}
}

// block is a piece of help text: a paragraph (its lines trimmed), or a
// run of indented lines to keep as they are (pre).
type block struct {
	pre   bool
	lines []string
}

// blocks splits help text into paragraphs, separated by blank lines, and
// runs of indented lines, as cobra's help shows them.
func blocks(s string) []block {
	var out []block
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := 0; i < len(lines); {
		switch {
		case strings.TrimSpace(lines[i]) == "":
			i++
		case indented(lines[i]):
			j := i
			for j < len(lines) && (indented(lines[j]) || strings.TrimSpace(lines[j]) == "" && j+1 < len(lines) && indented(lines[j+1])) {
				j++
			}
			out = append(out, block{pre: true, lines: lines[i:j]})
			i = j
		default:
			var para []string
			for ; i < len(lines) && strings.TrimSpace(lines[i]) != "" && !indented(lines[i]); i++ {
				para = append(para, strings.TrimSpace(lines[i]))
			}
			out = append(out, block{lines: para})
		}
	}
	return out
}

// text renders help text: paragraphs are filled; indented lines are kept
// as they are.
func text(b *strings.Builder, s string) {
	for _, bl := range blocks(s) {
		if bl.pre {
			preformatted(b, bl.lines)
			continue
		}
		b.WriteString(".PP\n")
		for _, l := range bl.lines {
			b.WriteString(escapeLine(l) + "\n")
		}
	}
}

func indented(l string) bool {
	return strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")
}

// preformatted writes lines unfilled, indented, with their common
// indentation removed.
func preformatted(b *strings.Builder, lines []string) {
	common := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, " \t"))
		if common < 0 || n < common {
			common = n
		}
	}
	b.WriteString(".PP\n.RS 4\n.nf\n")
	for _, l := range lines {
		if len(l) >= common && common > 0 {
			l = l[common:]
		}
		b.WriteString(escapeLine(strings.TrimRight(l, " \t")) + "\n")
	}
	b.WriteString(".fi\n.RE\n")
}

// flat puts a one-line field on one line.
func flat(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// seeAlso renders "name(N)" as a bold name and its section.
func seeAlso(s string) string {
	if name, sec, ok := strings.Cut(s, "("); ok {
		return bold(name) + "(" + escape(sec)
	}
	return bold(s)
}

func bold(s string) string   { return `\fB` + escape(s) + `\fR` }
func italic(s string) string { return `\fI` + escape(s) + `\fR` }

// escape makes s safe inside a roff text line: backslashes are printed
// as such and hyphens become minus signs, so that options copied from
// the page work.
func escape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	return strings.ReplaceAll(s, "-", `\-`)
}

// escapeLine escapes a whole output line: a line starting with a period
// or an apostrophe would otherwise be read as a request.
func escapeLine(s string) string {
	lines := strings.Split(escape(s), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			lines[i] = `\&` + l
		}
	}
	return strings.Join(lines, "\n")
}

// quote makes s one argument of a request.
func quote(s string) string {
	return `"` + strings.ReplaceAll(escape(s), `"`, `\(dq`) + `"`
}
