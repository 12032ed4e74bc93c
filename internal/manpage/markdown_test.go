package manpage

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestMarkdown renders the test tree and compares it with the golden
// page testdata/tool.md.
func TestMarkdown(t *testing.T) {
	var b strings.Builder
	for _, c := range tree() {
		if err := Markdown(&b, c, 3); err != nil {
			t.Fatal(err)
		}
	}
	if err := MarkdownExitStatus(&b, Page{ExitStatus: []Exit{{0, "ok"}, {2, "bad | usage"}}, ExitNote: "More."}); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "tool.md")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("markdown differs from %s (go test -run TestMarkdown -update rewrites it):\n%s", golden, b.String())
	}
}

func TestMarkdownEscapes(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain words, 7000,8000:udp", "plain words, 7000,8000:udp"},
		{"a *b* _c_ `d` [e](f) <g> h|i & ~j~ $K", `a \*b\* \_c\_ \` + "`" + `d\` + "`" + ` \[e\](f) \<g\> h\|i \& \~j\~ \$K`},
		{"# not a heading", `\# not a heading`},
		{"- not a list", `\- not a list`},
		{"+ not a list", `\+ not a list`},
		{"--wait PORT", `\--wait PORT`},
		{"===", `\===`},
		{"1. not a list", `1\. not a list`},
		{"12) not a list", `12\) not a list`},
		{"> not a quote", `\> not a quote`},
		{"back\\slash", `back\\slash`},
		{"1.5 seconds", `1\.5 seconds`},
	} {
		if got := mdLine(tc.in); got != tc.want {
			t.Errorf("mdLine(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMarkdownLevel(t *testing.T) {
	for _, level := range []int{0, 7} {
		if err := Markdown(&strings.Builder{}, tree()[0], level); err == nil {
			t.Errorf("level %d: no error", level)
		}
	}
}

// FuzzMarkdown checks that no help text, whatever it holds, turns into
// markup: outside code blocks, every markup character of a line that came
// from the text is escaped, no line starts a block, and every code block
// is closed.
func FuzzMarkdown(f *testing.F) {
	for _, s := range []string{"plain", "  indented\n\n  more", "# h\n- l\n1. x", "a *b* _c_", "```\ncode\n```", "  ```x", "|a|b|\n|---|---|", "$x$ ~y~ <z>", "\\*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b strings.Builder
		c := Command{Path: "tool", Uses: []string{"ARG"}, Long: s, Example: s, Flags: []Flag{{Name: "flag", Usage: s, Default: s}}}
		if err := Markdown(&b, c, 2); err != nil {
			t.Fatal(err)
		}
		if err := MarkdownExitStatus(&b, Page{ExitStatus: []Exit{{1, s}}, ExitNote: s}); err != nil {
			t.Fatal(err)
		}
		fence := ""
		for _, l := range strings.Split(b.String(), "\n") {
			switch {
			case fence != "":
				if l == fence {
					fence = ""
				}
				continue
			case strings.HasPrefix(l, "```"):
				fence = strings.TrimRight(l, "abcdefghijklmnopqrstuvwxyz")
				continue
			case l == "## tool", l == "| option | meaning |", l == "| code | meaning |", l == "|---|---|", l == "Examples:", l == "":
				continue
			}
			text := l
			if strings.HasPrefix(l, "| ") && strings.HasSuffix(l, " |") {
				// A table row: its cells, without the code span of a flag.
				text = strings.TrimSuffix(strings.TrimPrefix(l, "| "), " |")
				if _, after, ok := strings.Cut(text, "` | "); ok && strings.HasPrefix(text, "`") {
					text = after
				} else if _, after, ok := strings.Cut(text, " | "); ok {
					text = after
				}
			} else if strings.IndexAny(l[:1], "#-+=>*") == 0 {
				t.Fatalf("line %q starts a block (from %q)", l, s)
			}
			escaped := false
			for _, r := range text {
				switch {
				case escaped:
					escaped = false
				case r == '\\':
					escaped = true
				case strings.ContainsRune("`*_[]<>|&~$", r):
					t.Fatalf("unescaped %q in %q (from %q)", r, l, s)
				}
			}
		}
		if fence != "" {
			t.Fatalf("code block not closed (from %q)", s)
		}
	})
}
