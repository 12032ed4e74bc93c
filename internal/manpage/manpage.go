// Package manpage renders a cobra command tree as one roff man page: the
// synopsis of every visible command, its description, its flags, the
// examples, the exit status and a SEE ALSO list. It does no work at init
// and depends on nothing but cobra and pflag, so a command that calls it
// adds nothing to the program's start-up cost.
package manpage

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

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

// Write renders root and all its visible subcommands as one man page.
// Hidden and deprecated commands, and cobra's help command, are left out.
func Write(w io.Writer, root *cobra.Command, p Page) error {
	if p.Section == "" {
		p.Section = "1"
	}
	if p.Manual == "" {
		p.Manual = "User Commands"
	}
	var b strings.Builder
	name := root.Name()
	b.WriteString(`.\" Generated from the command tree of ` + name + "; do not edit.\n")
	fmt.Fprintf(&b, ".TH %s %s %s %s %s\n", quote(strings.ToUpper(name)), p.Section,
		quote(p.Date), quote(p.Source), quote(p.Manual))

	b.WriteString(".SH NAME\n")
	b.WriteString(escapeLine(name+" - "+strings.ReplaceAll(root.Short, "\n", " ")) + "\n")

	cmds := visible(root)
	b.WriteString(".SH SYNOPSIS\n")
	for i, c := range cmds {
		if i > 0 {
			b.WriteString(".br\n")
		}
		synopsis(&b, c)
	}

	b.WriteString(".SH DESCRIPTION\n")
	text(&b, description(root))

	if fs := ownFlags(root); fs.HasAvailableFlags() {
		b.WriteString(".SH OPTIONS\n")
		flags(&b, fs)
	}

	if len(cmds) > 1 {
		b.WriteString(".SH COMMANDS\n")
		for _, c := range cmds[1:] {
			b.WriteString(".SS " + quote(c.CommandPath()) + "\n")
			synopsis(&b, c)
			text(&b, description(c))
			if fs := ownFlags(c); fs.HasAvailableFlags() {
				b.WriteString(".PP\nOptions:\n")
				flags(&b, fs)
			}
		}
	}

	if hasExamples(cmds) {
		b.WriteString(".SH EXAMPLES\n")
		for _, c := range cmds {
			if c.Example == "" {
				continue
			}
			if c != root {
				b.WriteString(".PP\n" + bold(c.CommandPath()) + ":\n")
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

// visible returns root and its available subcommands, depth first, in
// cobra's (sorted) order.
func visible(root *cobra.Command) []*cobra.Command {
	out := []*cobra.Command{root}
	for _, c := range root.Commands() {
		if !c.IsAvailableCommand() || c.Name() == "help" {
			continue
		}
		out = append(out, visible(c)...)
	}
	return out
}

func hasExamples(cmds []*cobra.Command) bool {
	for _, c := range cmds {
		if c.Example != "" {
			return true
		}
	}
	return false
}

func description(c *cobra.Command) string {
	if c.Long != "" {
		return c.Long
	}
	return c.Short
}

// ownFlags is the flags a command defines itself (persistent ones
// included), without --help, which every command has.
func ownFlags(c *cobra.Command) *pflag.FlagSet {
	fs := pflag.NewFlagSet(c.Name(), pflag.ContinueOnError)
	fs.SortFlags = true
	c.NonInheritedFlags().VisitAll(func(f *pflag.Flag) {
		if f.Name != "help" || c.Parent() == nil {
			fs.AddFlag(f)
		}
	})
	return fs
}

// synopsis writes the command's path in bold and its arguments in roman.
func synopsis(b *strings.Builder, c *cobra.Command) {
	if !c.Runnable() {
		b.WriteString(bold(c.CommandPath()) + " " + escape("COMMAND ...") + "\n")
		return
	}
	// A Use line may offer alternatives: "knock [flags] A | knock [flags] B".
	for i, alt := range strings.Split(c.Use, " | ") {
		if i > 0 {
			b.WriteString(".br\n")
		}
		_, args, _ := strings.Cut(alt, " ")
		if c.HasAvailableFlags() && !c.DisableFlagsInUseLine && !strings.Contains(args, "[flags]") {
			args = strings.TrimSpace("[flags] " + args)
		}
		line := bold(c.CommandPath())
		if args != "" {
			line += " " + escape(args)
		}
		b.WriteString(line + "\n")
	}
}

// flags writes one tagged paragraph per visible flag.
func flags(b *strings.Builder, fs *pflag.FlagSet) {
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		varname, usage := pflag.UnquoteUsage(f)
		tag := ""
		if f.Shorthand != "" && f.ShorthandDeprecated == "" {
			tag = bold("-"+f.Shorthand) + ", "
		}
		tag += bold("--" + f.Name)
		if varname != "" {
			tag += " " + italic(varname)
		}
		if f.Deprecated != "" {
			usage += " (deprecated: " + f.Deprecated + ")"
		}
		if d := defaultValue(f); d != "" {
			usage += " (default " + d + ")"
		}
		b.WriteString(".TP\n" + tag + "\n" + escapeLine(usage) + "\n")
	})
}

// defaultValue is the default worth printing: not zero, not empty.
func defaultValue(f *pflag.Flag) string {
	switch f.DefValue {
	case "", "0", "false", "[]", "<nil>", "0s":
		return ""
	}
	if f.Value.Type() == "string" {
		return fmt.Sprintf("%q", f.DefValue)
	}
	return f.DefValue
}

// text renders help text: paragraphs separated by blank lines are filled;
// indented lines are kept as they are, as cobra's help shows them.
func text(b *strings.Builder, s string) {
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
			preformatted(b, lines[i:j])
			i = j
		default:
			b.WriteString(".PP\n")
			for ; i < len(lines) && strings.TrimSpace(lines[i]) != "" && !indented(lines[i]); i++ {
				b.WriteString(escapeLine(strings.TrimSpace(lines[i])) + "\n")
			}
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
