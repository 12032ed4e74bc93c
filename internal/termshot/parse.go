// Package termshot turns a terminal screen into a picture, for the
// images of knock's README. [Parse] reads what `tmux capture-pane -e -p`
// prints (text with SGR colour and attribute codes) into a grid of styled
// cells; [SVG] draws the grid as an SVG image of text spans; [Capture]
// runs a program in a detached tmux session of a fixed size and returns
// its screen once it has settled. Nothing here is linked into knock.
package termshot

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mattn/go-runewidth"
)

// ColorKind says how a [Color] is given.
type ColorKind uint8

// The kinds of colour.
const (
	Default ColorKind = iota // the terminal's foreground or background
	Indexed                  // one of the 256 palette colours
	RGB                      // a 24-bit colour
)

// Color is a cell's foreground or background colour.
type Color struct {
	Kind    ColorKind
	Index   uint8 // Indexed
	R, G, B uint8 // RGB
}

// Style is what SGR codes set for a cell.
type Style struct {
	FG, BG                                               Color
	Bold, Dim, Italic, Underline, Reverse, Strikethrough bool
}

// Cell is one character on the screen. A wide character fills two
// columns: its cell has Width 2 and no cell follows for the second column.
type Cell struct {
	Text  string // the character, with any combining marks
	Width int    // 1 or 2 columns
	Style Style
}

// Screen is a captured screen: its lines, top to bottom, each a run of
// cells from the left edge. Lines hold no trailing blank cells.
type Screen struct {
	Lines [][]Cell
}

// Cols returns the width of the widest line, in columns.
func (s Screen) Cols() int {
	n := 0
	for _, l := range s.Lines {
		w := 0
		for _, c := range l {
			w += c.Width
		}
		n = max(n, w)
	}
	return n
}

// Text returns the screen's characters without styles, one line each.
func (s Screen) Text() string {
	var b strings.Builder
	for _, l := range s.Lines {
		for _, c := range l {
			b.WriteString(c.Text)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// Parse reads a captured screen: text lines with SGR sequences
// (ESC [ ... m). Other escape sequences (CSI, OSC, and two-byte ones) are
// skipped, as are control characters; a tab moves to the next multiple of
// 8 columns; invalid UTF-8 becomes U+FFFD. Styles carry over from one
// line to the next, as in the terminal. Trailing blank lines are dropped.
func Parse(s string) Screen {
	var (
		scr  Screen
		line []Cell
		st   Style
		col  int
	)
	blank := func(n int) {
		for ; n > 0; n-- {
			line = append(line, Cell{Text: " ", Width: 1, Style: st})
			col++
		}
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\x1b':
			n, params, final := escape(s[i:])
			if final == 'm' {
				st = sgr(st, params)
			}
			i += n
			continue
		case r == '\n':
			scr.Lines = append(scr.Lines, line)
			line, col = nil, 0
		case r == '\t':
			blank(8 - col%8)
		case r == utf8.RuneError && size <= 1:
			line = append(line, Cell{Text: "\uFFFD", Width: 1, Style: st})
			col++
		case unicode.IsControl(r):
			// BEL, CR, BS ... move nothing on a captured screen.
		case unicode.In(r, unicode.Mn, unicode.Me) || runewidth.RuneWidth(r) == 0:
			// A combining mark or zero-width character joins the cell
			// before it, or is dropped at the start of a line.
			if len(line) > 0 {
				line[len(line)-1].Text += string(r)
			}
		default:
			w := runewidth.RuneWidth(r)
			line = append(line, Cell{Text: string(r), Width: w, Style: st})
			col += w
		}
		i += size
	}
	if len(line) > 0 {
		scr.Lines = append(scr.Lines, line)
	}
	for i, l := range scr.Lines {
		for len(l) > 0 && l[len(l)-1].Text == " " && plain(l[len(l)-1].Style) {
			l = l[:len(l)-1]
		}
		scr.Lines[i] = l
	}
	for len(scr.Lines) > 0 && len(scr.Lines[len(scr.Lines)-1]) == 0 {
		scr.Lines = scr.Lines[:len(scr.Lines)-1]
	}
	return scr
}

// plain reports whether a blank cell of style st shows nothing: no
// background and no line through or under it.
func plain(st Style) bool {
	return st.BG.Kind == Default && !st.Reverse && !st.Underline && !st.Strikethrough
}

// escape measures the escape sequence at the start of s (s[0] is ESC) and
// returns its length and, for a CSI sequence, its parameters and final
// byte (0 for other sequences). An unfinished sequence runs to the end.
func escape(s string) (n int, params string, final byte) {
	if len(s) < 2 {
		return len(s), "", 0
	}
	switch s[1] {
	case '[': // CSI: parameters and intermediates, then a final byte 0x40-0x7e
		for j := 2; j < len(s); j++ {
			if c := s[j]; c >= 0x40 && c <= 0x7e {
				return j + 1, s[2:j], c
			}
		}
		return len(s), "", 0
	case ']', 'P', '_', '^': // OSC, DCS, APC, PM: up to BEL or ESC \
		for j := 2; j < len(s); j++ {
			if s[j] == '\a' {
				return j + 1, "", 0
			}
			if s[j] == '\x1b' && j+1 < len(s) && s[j+1] == '\\' {
				return j + 2, "", 0
			}
		}
		return len(s), "", 0
	}
	_, size := utf8.DecodeRuneInString(s[1:])
	return 1 + size, "", 0
}

// sgr applies the parameters of one SGR sequence to st. Both forms of
// extended colours are read: 38;5;N and 38:5:N, 38;2;R;G;B and 38:2::R:G:B.
func sgr(st Style, params string) Style {
	if params == "" {
		return Style{}
	}
	groups := strings.Split(params, ";")
	for i := 0; i < len(groups); i++ {
		sub := strings.Split(groups[i], ":")
		code := num(sub[0])
		switch {
		case code == 0:
			st = Style{}
		case code == 1:
			st.Bold = true
		case code == 2:
			st.Dim = true
		case code == 3:
			st.Italic = true
		case code == 4:
			st.Underline = len(sub) < 2 || num(sub[1]) != 0
		case code == 7:
			st.Reverse = true
		case code == 9:
			st.Strikethrough = true
		case code == 22:
			st.Bold, st.Dim = false, false
		case code == 23:
			st.Italic = false
		case code == 24:
			st.Underline = false
		case code == 27:
			st.Reverse = false
		case code == 29:
			st.Strikethrough = false
		case code >= 30 && code <= 37:
			st.FG = Color{Kind: Indexed, Index: uint8(code - 30)}
		case code == 39:
			st.FG = Color{}
		case code >= 40 && code <= 47:
			st.BG = Color{Kind: Indexed, Index: uint8(code - 40)}
		case code == 49:
			st.BG = Color{}
		case code >= 90 && code <= 97:
			st.FG = Color{Kind: Indexed, Index: uint8(code - 90 + 8)}
		case code >= 100 && code <= 107:
			st.BG = Color{Kind: Indexed, Index: uint8(code - 100 + 8)}
		case code == 38 || code == 48 || code == 58:
			var c Color
			var ok bool
			if len(sub) > 1 {
				c, ok = extended(sub[1:], true)
			} else {
				var used int
				c, ok, used = extendedSemi(groups[i+1:])
				i += used
			}
			switch {
			case !ok:
			case code == 38:
				st.FG = c
			case code == 48:
				st.BG = c
			}
		}
	}
	return st
}

// extended reads a colon form: 5:N or 2:[colourspace:]R:G:B.
func extended(sub []string, colon bool) (Color, bool) {
	switch num(sub[0]) {
	case 5:
		if len(sub) >= 2 {
			return Color{Kind: Indexed, Index: uint8(num(sub[1]))}, true
		}
	case 2:
		rgb := sub[1:]
		if colon && len(rgb) >= 4 {
			rgb = rgb[1:] // the colour space id
		}
		if len(rgb) >= 3 {
			return Color{Kind: RGB, R: uint8(num(rgb[0])), G: uint8(num(rgb[1])), B: uint8(num(rgb[2]))}, true
		}
	}
	return Color{}, false
}

// extendedSemi reads the semicolon form from the groups after 38, and
// says how many of them it used.
func extendedSemi(rest []string) (Color, bool, int) {
	if len(rest) == 0 {
		return Color{}, false, 0
	}
	switch num(rest[0]) {
	case 5:
		if len(rest) >= 2 {
			c, ok := extended(rest[:2], false)
			return c, ok, 2
		}
	case 2:
		if len(rest) >= 4 {
			c, ok := extended(rest[:4], false)
			return c, ok, 4
		}
	}
	return Color{}, false, len(rest)
}

// num reads a decimal parameter, clamped to 0..255; an empty or bad one
// is 0, as terminals read it.
func num(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0
	}
	return min(n, 255)
}
