package docs

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

const page = "# Title\n\n" +
	"<!-- run -->\n```sh\nknock demo\n```\n\n" +
	"Text.\n\n" +
	"<!-- run exit=2 stdin=\"7000,8000\\n9000\\n\" lines=2-3 -->\n```sh\none\ntwo\nthree\n```\n\n" +
	"<!-- file: ~/.ssh/config mode=0600 -->\n```\nHost x\n```\n\n" +
	"````markdown\n<!-- run -->\n```sh\nnot a block\n```\n````\n\n" +
	"```python\nprint(1)\n```\n\n" +
	"## Reference\n\n<!-- generated: knock ssh -->\nold text\n```\ncode\n```\n<!-- end generated -->\n\n" +
	"<!-- generated: exit codes -->\n<!-- end generated -->\n"

func TestParse(t *testing.T) {
	p, err := Parse(page)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Blocks) != 6 {
		t.Fatalf("%d blocks: %+v", len(p.Blocks), p.Blocks)
	}
	b := p.Blocks
	if b[0].Run == nil || b[0].Run.Exit != 0 || b[0].Lang != "sh" || b[0].Body != "knock demo\n" || b[0].Line != 4 {
		t.Errorf("block 0: %+v %+v", b[0], b[0].Run)
	}
	if r := b[1].Run; r == nil || r.Exit != 2 || r.Stdin != "7000,8000\n9000\n" || len(r.Lines) != 1 || r.Lines[0] != (Span{2, 3}) || b[1].Lines() != "two\nthree\n" {
		t.Errorf("block 1: %+v %+v", b[1], r)
	}
	if f := b[2].File; f == nil || f.Path != "~/.ssh/config" || f.Mode != 0o600 || b[2].Run != nil || b[2].Body != "Host x\n" {
		t.Errorf("block 2: %+v %+v", b[2], f)
	}
	if b[3].Run != nil || b[3].Lang != "markdown" || !strings.Contains(b[3].Body, "<!-- run -->") {
		t.Errorf("a marker inside a code block is text: %+v", b[3])
	}
	if b[4].Run != nil || b[4].Lang != "python" {
		t.Errorf("an unmarked block: %+v", b[4])
	}
	if len(p.Regions) != 2 || p.Regions[0].Key != "knock ssh" || p.Regions[1].Key != "exit codes" {
		t.Fatalf("regions: %+v", p.Regions)
	}
	if got := p.Regions[0].Content(page); got != "old text\n```\ncode\n```\n" {
		t.Errorf("region content %q", got)
	}
	if got := p.Regions[1].Content(page); got != "" {
		t.Errorf("empty region content %q", got)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"<!-- run -->\ntext\n", "line 1: a marker must be followed by a fenced code block"},
		{"<!-- run -->\n", "line 1: a marker must be followed by a fenced code block"},
		{"<!-- run -->\n\n```sh\nx\n```\n", "line 1: a marker must be followed"},
		{"<!-- run exit=x -->\n```\nx\n```\n", "line 1: exit=x: want 0..255"},
		{"<!-- run exit=300 -->\n```\nx\n```\n", "exit=300"},
		{"<!-- run lines=3-1 -->\n```\nx\n```\n", "lines=3-1: want ranges"},
		{"<!-- run lines=2,1 -->\n```\nx\n```\n", "lines=2,1: want ranges"},
		{"<!-- run lines=0 -->\n```\nx\n```\n", "lines=0: want ranges"},
		{"<!-- run lines=1- -->\n```\nx\n```\n", "lines=1-: want ranges"},
		{"<!-- run lines=1-2 -->\n```\nx\n```\n", "line 1: lines= goes to line 2, but the block has 1 lines"},
		{"<!-- run stdin=\"x -->\n```\nx\n```\n", "stdin: bad string"},
		{"<!-- run bogus=1 -->\n```\nx\n```\n", `unknown attribute "bogus"`},
		{"<!-- run mode=0600 -->\n```\nx\n```\n", `unknown attribute "mode"`},
		{"<!-- run exit -->\n```\nx\n```\n", "bad attribute"},
		{"<!-- run\n```\nx\n```\n", "ends with -->"},
		{"<!-- file: -->\n```\nx\n```\n", "file: needs a path"},
		{"<!-- file: x mode=999 -->\n```\nx\n```\n", "mode=999"},
		{"<!-- file: x exit=1 -->\n```\nx\n```\n", `unknown attribute "exit"`},
		{"```sh\nx\n", "line 1: code block not closed"},
		{"a\n<!-- generated: x -->\n", "line 2: generated region without <!-- end generated -->"},
		{"<!-- end generated -->\n", "line 1: <!-- end generated --> without a region"},
		{"<!-- generated: a -->\n<!-- generated: b -->\n<!-- end generated -->\n", "line 2: generated region inside"},
		{"<!-- generated:  -->\n<!-- end generated -->\n", "want <!-- generated: KEY -->"},
	} {
		_, err := Parse(tc.src)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q): %v, want %q", tc.src, err, tc.want)
		}
	}
}

func TestLines(t *testing.T) {
	p, err := Parse("<!-- run lines=1,3-4,6 -->\n```sh\na\nb\nc\nd\ne\nf\n```\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Blocks[0].Lines(); got != "a\nc\nd\nf\n" {
		t.Errorf("Lines() = %q", got)
	}
}

func TestFences(t *testing.T) {
	for _, tc := range []struct {
		src    string
		blocks int
		body   string
	}{
		{"~~~\na\n~~~\n", 1, "a\n"},
		{"```\na\n~~~\n```\n", 1, "a\n~~~\n"},
		{"````\n```\n````\n", 1, "```\n"},
		{"   ```\na\n   ```\n", 1, "a\n"},
		{"    ```\nindented code, not a fence\n", 0, ""},
		{"``` a`b\n", 0, ""}, // backticks in the info string: not a fence
		{"```\r\na\r\n```\r\n", 1, "a\n"},
		{"```\na\n``` \n", 1, "a\n"},
		{"```\na\n```x\n```\n", 1, "a\n```x\n"},
	} {
		p, err := Parse(tc.src)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.src, err)
			continue
		}
		if len(p.Blocks) != tc.blocks || tc.blocks > 0 && p.Blocks[0].Body != tc.body {
			t.Errorf("Parse(%q): %+v", tc.src, p.Blocks)
		}
	}
}

func TestSplice(t *testing.T) {
	got, keys, err := Splice(page, func(key string) (string, error) { return "new " + key, nil })
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(page, "old text\n```\ncode\n```\n", "new knock ssh\n", 1)
	want = strings.Replace(want, "<!-- generated: exit codes -->\n", "<!-- generated: exit codes -->\nnew exit codes\n", 1)
	if got != want {
		t.Errorf("Splice:\n%s\nwant:\n%s", got, want)
	}
	if strings.Join(keys, ",") != "knock ssh,exit codes" {
		t.Errorf("keys %q", keys)
	}
	_, _, err = Splice(page, func(key string) (string, error) { return "", errors.New("no such command") })
	line := strings.Count(page[:strings.Index(page, "<!-- generated: knock ssh")], "\n") + 1
	if err == nil || err.Error() != fmt.Sprintf("line %d: no such command", line) {
		t.Errorf("a failing generator: %v", err)
	}
}

// FuzzParse checks that any page parses or fails without a panic, and
// that splicing every region's own content back leaves the page as it is.
func FuzzParse(f *testing.F) {
	f.Add(page)
	for _, s := range []string{"", "```", "<!-- run -->\n```\n", "<!-- generated: k -->\n```\n<!-- end generated -->\n```\n<!-- end generated -->\n", "~~~~\n~~~\n", "<!-- run lines=1-1 stdin=\"\\x00\" -->\n```\na\n```"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Parse(src)
		if err != nil {
			return
		}
		for _, b := range p.Blocks {
			_ = b.Lines()
		}
		content := map[string][]string{}
		for _, r := range p.Regions {
			content[r.Key] = append(content[r.Key], r.Content(src))
		}
		out, _, err := Splice(src, func(key string) (string, error) {
			c := content[key][0]
			content[key] = content[key][1:]
			return c, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if out != src {
			t.Fatalf("splicing a page's own regions changed it:\n%q\n%q", src, out)
		}
	})
}
