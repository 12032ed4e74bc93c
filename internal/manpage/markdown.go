package manpage

import (
	"fmt"
	"io"
	"strings"
)

// Markdown renders one command of the tree as a section of a markdown
// page: a heading of the given level (1 to 6) naming its path, the
// synopsis, the description, a table of its flags and its examples. It
// shows what [Write] shows for the command, so that docs/ and the man
// page agree. Help text is plain text: every character markdown would
// read as markup is escaped, and indented lines become code blocks.
func Markdown(w io.Writer, c Command, level int) error {
	if level < 1 || level > 6 {
		return fmt.Errorf("manpage: heading level %d out of 1..6", level)
	}
	var b strings.Builder
	b.WriteString(strings.Repeat("#", level) + " " + mdEscape(flat(c.Path)) + "\n\n")

	var syn []string
	if c.Uses == nil {
		syn = []string{c.Path + " COMMAND ..."}
	}
	for _, args := range c.Uses {
		syn = append(syn, strings.TrimSpace(c.Path+" "+flat(args)))
	}
	mdCode(&b, "", syn)

	mdText(&b, description(c))

	if len(c.Flags) > 0 {
		b.WriteString("| option | meaning |\n|---|---|\n")
		for _, f := range c.Flags {
			tag := ""
			if f.Shorthand != "" {
				tag = mdSpan("-"+flat(f.Shorthand)) + ", "
			}
			name := "--" + flat(f.Name)
			if f.Var != "" {
				name += " " + flat(f.Var)
			}
			tag += mdSpan(name)
			usage := flat(f.Usage)
			if f.Deprecated != "" {
				usage += " (deprecated: " + flat(f.Deprecated) + ")"
			}
			if f.Default != "" {
				usage += " (default " + flat(f.Default) + ")"
			}
			b.WriteString("| " + tag + " | " + mdEscape(usage) + " |\n")
		}
		b.WriteString("\n")
	}

	if c.Example != "" {
		b.WriteString("Examples:\n\n")
		mdCode(&b, "sh", strings.Split(strings.TrimRight(c.Example, "\n"), "\n"))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// MarkdownExitStatus renders the page's exit codes as a markdown table,
// followed by its ExitNote.
func MarkdownExitStatus(w io.Writer, p Page) error {
	var b strings.Builder
	b.WriteString("| code | meaning |\n|---|---|\n")
	for _, e := range p.ExitStatus {
		fmt.Fprintf(&b, "| %d | %s |\n", e.Code, mdEscape(flat(e.Meaning)))
	}
	if p.ExitNote != "" {
		b.WriteString("\n")
		mdText(&b, p.ExitNote)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// mdText renders help text as [text] does for roff: paragraphs separated
// by blank lines, and runs of indented lines kept as they are, here in a
// code block.
func mdText(b *strings.Builder, s string) {
	for _, bl := range blocks(s) {
		if bl.pre {
			mdCode(b, "", bl.lines)
			continue
		}
		for _, l := range bl.lines {
			b.WriteString(mdLine(l) + "\n")
		}
		b.WriteString("\n")
	}
}

// mdCode writes lines as a fenced code block, with their common
// indentation removed. The fence is longer than any run of backticks in
// the lines.
func mdCode(b *strings.Builder, lang string, lines []string) {
	common := -1
	fence := "```"
	for _, l := range lines {
		for strings.Contains(l, fence) {
			fence += "`"
		}
		if strings.TrimSpace(l) == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, " \t"))
		if common < 0 || n < common {
			common = n
		}
	}
	b.WriteString(fence + lang + "\n")
	for _, l := range lines {
		if len(l) >= common && common > 0 {
			l = l[common:]
		}
		b.WriteString(strings.TrimRight(l, " \t") + "\n")
	}
	b.WriteString(fence + "\n\n")
}

// mdSpan writes s as a code span.
func mdSpan(s string) string {
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

// mdLine escapes one line of a paragraph: its inline markup, and what
// would start a block at the beginning of a line (a heading, a list, a
// quote, a thematic break or a setext underline).
func mdLine(s string) string {
	e := mdEscape(s)
	if e == "" {
		return e
	}
	switch e[0] {
	case '#', '-', '+', '=':
		return `\` + e
	}
	// An ordered list item: digits, then "." or ")".
	d := 0
	for d < len(e) && d < 9 && e[d] >= '0' && e[d] <= '9' {
		d++
	}
	if d > 0 && d < len(e) && (e[d] == '.' || e[d] == ')') {
		return e[:d] + `\` + e[d:]
	}
	return e
}

// mdEscape backslash-escapes every character that markdown (GitHub's
// flavour, with tables, strikethrough and math) reads as inline markup.
func mdEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\\', '`', '*', '_', '[', ']', '<', '>', '|', '&', '~', '$':
			b.WriteByte('\\')
		case '\t':
			r = ' '
		}
		b.WriteRune(r)
	}
	return b.String()
}
