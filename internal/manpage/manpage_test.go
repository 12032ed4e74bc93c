package manpage

import (
	"strings"
	"testing"
)

func tree() []Command {
	return []Command{
		{Path: "tool", Uses: []string{"[flags] HOST", "[flags] NAME"}, Short: "Does things",
			Long:    "tool does things.\n\n  tool HOST   a host\n  tool NAME   a name\n\n.dots and 'quotes at line starts, back\\slash.",
			Example: "  tool -v host\n  tool name",
			Flags: []Flag{
				{Name: "method", Var: "string", Usage: "how", Default: `"auto"`},
				{Name: "verbose", Shorthand: "v", Usage: "say more"},
				{Name: "wait", Var: "PORT", Usage: "wait for PORT"},
			}},
		{Path: "tool group", Short: "A group"},
		{Path: "tool group leaf", Uses: []string{"NAME"}, Short: "A leaf", Example: "  tool group leaf x"},
	}
}

func TestWrite(t *testing.T) {
	var b strings.Builder
	err := Write(&b, tree(), Page{Date: "2026-01-02", Source: "tool 1.0",
		ExitStatus: []Exit{{0, "ok"}, {2, "bad usage"}}, ExitNote: "More.", SeeAlso: []string{"ssh(1)"}})
	if err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{
		`.TH "TOOL" 1 "2026\-01\-02" "tool 1.0" "User Commands"`,
		".SH NAME\ntool \\- Does things\n",
		"\\fBtool\\fR [flags] HOST\n.br\n\\fBtool\\fR [flags] NAME\n",
		".TP\n\\fB\\-v\\fR, \\fB\\-\\-verbose\\fR\nsay more\n",
		".TP\n\\fB\\-\\-wait\\fR \\fIPORT\\fR\nwait for PORT\n",
		"how (default \"auto\")",
		".nf\ntool HOST   a host\ntool NAME   a name\n.fi\n",
		"\\&.dots and 'quotes at line starts, back\\eslash.",
		`.SS "tool group leaf"`,
		".PP\n\\fBtool group leaf\\fR:\n",
		".SH EXIT STATUS\n.TP\n.B 0\nok\n.TP\n.B 2\nbad usage\n.PP\nMore.\n",
		".SH SEE ALSO\n\\fBssh\\fR(1)\n",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q\n%s", want, page)
		}
	}
	if !strings.Contains(page, "\\fBtool group\\fR COMMAND ...") {
		t.Errorf("a group's synopsis:\n%s", page)
	}
}

// FuzzWrite checks that no help text, whatever it holds, can smuggle a
// roff request into the page: every line that starts with a control
// character is a request the renderer wrote.
func FuzzWrite(f *testing.F) {
	for _, s := range []string{"plain", "  indented\n\n  more", ".TH x", "'br", "a\n.\n'", "\\fBx", "-v --x", "\t.tab", "x\n.SH EVIL"} {
		f.Add(s)
	}
	// Requests whose arguments the renderer quotes or writes itself.
	requests := []string{".TH \"", ".SH ", ".SS \"", ".B ", `.\" `}
	exact := map[string]bool{".PP": true, ".RS 4": true, ".nf": true, ".fi": true, ".RE": true, ".TP": true, ".br": true}
	f.Fuzz(func(t *testing.T, s string) {
		cmds := []Command{
			{Path: "tool", Uses: []string{s}, Short: s, Long: s, Example: s, Flags: []Flag{{Name: "flag", Var: s, Usage: s, Default: s}}},
			{Path: "tool sub", Uses: []string{"ARG"}, Short: s},
		}
		var b strings.Builder
		if err := Write(&b, cmds, Page{ExitStatus: []Exit{{1, s}}, ExitNote: s}); err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(b.String(), "\n") {
			if !strings.HasPrefix(l, ".") && !strings.HasPrefix(l, "'") || exact[l] {
				continue
			}
			ok := false
			for _, r := range requests {
				ok = ok || strings.HasPrefix(l, r)
			}
			if !ok {
				t.Fatalf("line %q from %q", l, s)
			}
		}
	})
}
