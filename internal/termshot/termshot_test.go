package termshot

import (
	"context"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestParseStyles(t *testing.T) {
	red := Color{Kind: Indexed, Index: 1}
	for _, tc := range []struct {
		name, in string
		want     []Style // the style of each cell of the first line
	}{
		{"plain", "ab", []Style{{}, {}}},
		{"bold and reset", "\x1b[1ma\x1b[0mb", []Style{{Bold: true}, {}}},
		{"empty SGR resets", "\x1b[1ma\x1b[mb", []Style{{Bold: true}, {}}},
		{"ansi colours", "\x1b[31;42ma", []Style{{FG: red, BG: Color{Kind: Indexed, Index: 2}}}},
		{"bright", "\x1b[91;105ma", []Style{{FG: Color{Kind: Indexed, Index: 9}, BG: Color{Kind: Indexed, Index: 13}}}},
		{"256", "\x1b[38;5;208ma", []Style{{FG: Color{Kind: Indexed, Index: 208}}}},
		{"256 colon", "\x1b[38:5:208ma", []Style{{FG: Color{Kind: Indexed, Index: 208}}}},
		{"rgb", "\x1b[48;2;10;20;30ma", []Style{{BG: Color{Kind: RGB, R: 10, G: 20, B: 30}}}},
		{"rgb colon with colour space", "\x1b[38:2::1:2:3ma", []Style{{FG: Color{Kind: RGB, R: 1, G: 2, B: 3}}}},
		{"rgb then bold", "\x1b[38;2;1;2;3;1ma", []Style{{FG: Color{Kind: RGB, R: 1, G: 2, B: 3}, Bold: true}}},
		{"default colours", "\x1b[31;41m\x1b[39;49ma", []Style{{}}},
		{"attributes on and off", "\x1b[2;3;4;7;9ma\x1b[22;23;24;27;29mb", []Style{{Dim: true, Italic: true, Underline: true, Reverse: true, Strikethrough: true}, {}}},
		{"other CSI skipped", "\x1b[2Ja\x1b[?25lb", []Style{{}, {}}},
		{"OSC skipped", "\x1b]8;;http://x\x1b\\a\x1b]0;title\ab", []Style{{}, {}}},
		{"truncated extended colour", "\x1b[38;5ma", []Style{{}}},
		{"style carries to the next line", "\x1b[31m\na", []Style{{FG: red}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			scr := Parse(tc.in)
			line := scr.Lines[len(scr.Lines)-1]
			if len(line) != len(tc.want) {
				t.Fatalf("%d cells, want %d: %+v", len(line), len(tc.want), line)
			}
			for i, c := range line {
				if c.Style != tc.want[i] {
					t.Errorf("cell %d %q: %+v, want %+v", i, c.Text, c.Style, tc.want[i])
				}
			}
		})
	}
}

func TestParseText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a\tb", "a       b\n"},
		{"ab   \n\n\n", "ab\n"},
		{"\x1b[41m  \x1b[0m  ", "  \n"}, // a background keeps its blanks
		{"a\x07\rb", "ab\n"},
		{"e\u0301", "e\u0301\n"},
		{"\xffx", "\uFFFDx\n"},
		{"\u6f22\u5b57", "\u6f22\u5b57\n"},
	} {
		if got := Parse(tc.in).Text(); got != tc.want {
			t.Errorf("Parse(%q).Text() = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := Parse("\u6f22x").Cols(); got != 3 {
		t.Errorf("a wide character: %d columns, want 3", got)
	}
}

// TestSVG draws a fixture screen and compares it with its golden image.
func TestSVG(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "screen.ans"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := SVG(&b, Parse(string(in)), Options{Title: "a <test> & more", Cols: 40, Rows: 8}); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "screen.svg")
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
		t.Errorf("SVG differs from %s (go test -run TestSVG -update rewrites it):\n%s", golden, b.String())
	}
	wellFormed(t, b.String())
}

func TestPalette(t *testing.T) {
	for i, want := range map[uint8]string{0: ansi16[0], 15: ansi16[15], 16: "#000000", 196: "#ff0000", 231: "#ffffff", 232: "#080808", 255: "#eeeeee"} {
		if got := palette(i); got != want {
			t.Errorf("palette(%d) = %s, want %s", i, got, want)
		}
	}
}

func wellFormed(t *testing.T, s string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(s))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, s)
		}
	}
}

// FuzzParse checks that any captured screen parses without a panic and
// draws as well-formed XML.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"plain", "\x1b[1;31mred\x1b[0m", "\x1b[38;2;1;2;3m\x1b[48:5:9mx", "\x1b]8;;u\aX", "\x1b[", "\x1b", "a\tb\n\x00\xff", "<&>\"", "\u0301x", "\x1b[4:0mx"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b strings.Builder
		if err := SVG(&b, Parse(s), Options{Title: s}); err != nil {
			t.Fatal(err)
		}
		wellFormed(t, b.String())
	})
}

// TestCapture runs a small program under tmux and reads its colours
// back. It needs tmux: in CI its absence fails the test.
func TestCapture(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tmux is missing (the test command installs it)")
		}
		t.Skip("tmux is missing (outside CI, so skipping)")
	}
	out, err := Capture(context.Background(), Shot{
		Args:   []string{"sh", "-c", `printf '\033[1;32mhello\033[0m\n\033[41mred\033[0m\n'; exit 3`},
		Env:    []string{"PATH=/usr/bin:/bin", "TERM=xterm-256color"},
		Cols:   30,
		Rows:   5,
		Ready:  func(s string) bool { return strings.Contains(s, "red") },
		Settle: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	scr := Parse(out)
	if got := scr.Text(); got != "hello\nred\n" {
		t.Fatalf("screen %q", got)
	}
	if st := scr.Lines[0][0].Style; !st.Bold || st.FG != (Color{Kind: Indexed, Index: 2}) {
		t.Errorf("hello: %+v", st)
	}
	if st := scr.Lines[1][0].Style; st.BG != (Color{Kind: Indexed, Index: 1}) {
		t.Errorf("red: %+v", st)
	}

	_, err = Capture(context.Background(), Shot{Args: []string{"true"}, Env: []string{"PATH=/usr/bin:/bin"}, Cols: 20, Rows: 3,
		Ready: func(string) bool { return false }, Timeout: 300 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "did not show a ready screen") {
		t.Errorf("a screen that never gets ready: %v", err)
	}
}
