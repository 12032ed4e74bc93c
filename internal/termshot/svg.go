package termshot

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Options shape the picture.
type Options struct {
	Title      string // shown in the window's title bar, and as the image's title
	Cols, Rows int    // the terminal's size; at least the screen's
}

// Geometry of the picture, in pixels. A cell is 0.6 em wide, the advance
// of common monospace fonts; every character is placed at its cell, so a
// font with another advance still lines up.
const (
	fontSize   = 14
	cellW      = 8.4
	cellH      = 19
	padX       = 14
	padTop     = 40 // below the title bar
	padBottom  = 14
	titleY     = 24
	fontFamily = `ui-monospace, SFMono-Regular, Menlo, Consolas, 'DejaVu Sans Mono', 'Liberation Mono', monospace`
)

// The window's colours and the 16 ANSI colours (a dark theme).
const (
	windowBG = "#1e1f29"
	defaultF = "#e6e6e6"
	titleFG  = "#9a9cab"
)

var ansi16 = [16]string{
	"#21222c", "#ff5555", "#50fa7b", "#f1fa8c", "#6272f4", "#ff79c6", "#8be9fd", "#d6d6d6",
	"#6272a4", "#ff6e6e", "#69ff94", "#ffffa5", "#92a5ff", "#ff92df", "#a4ffff", "#ffffff",
}

// hex returns a colour as #rrggbb; def is used for [Default].
func (c Color) hex(def string) string {
	switch c.Kind {
	case Indexed:
		return palette(c.Index)
	case RGB:
		return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B)
	}
	return def
}

// palette returns colour i of the 256-colour palette: the 16 ANSI
// colours, the 6x6x6 cube, then 24 greys.
func palette(i uint8) string {
	switch {
	case i < 16:
		return ansi16[i]
	case i < 232:
		i -= 16
		level := func(v uint8) uint8 {
			if v == 0 {
				return 0
			}
			return 55 + 40*v
		}
		return fmt.Sprintf("#%02x%02x%02x", level(i/36), level(i/6%6), level(i%6))
	}
	g := 8 + 10*(i-232)
	return fmt.Sprintf("#%02x%02x%02x", g, g, g)
}

// colors resolves a style to its foreground and background, reverse
// video applied; bg is "" when the cell shows the window's background.
func (st Style) colors() (fg, bg string) {
	fg, bg = st.FG.hex(defaultF), st.BG.hex("")
	if st.Reverse {
		fg, bg = st.BG.hex(windowBG), st.FG.hex(defaultF)
	}
	return fg, bg
}

// SVG draws the screen as a terminal window: a title bar, then every line
// as text spans with their colours and attributes. The output depends on
// nothing but its arguments.
func SVG(w io.Writer, scr Screen, o Options) error {
	cols, rows := max(o.Cols, scr.Cols()), max(o.Rows, len(scr.Lines))
	width := 2*padX + int(float64(cols)*cellW+0.5)
	height := padTop + rows*cellH + padBottom
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s">`+"\n",
		width, height, width, height, xmlText(o.Title))
	fmt.Fprintf(&b, "<title>%s</title>\n", xmlText(o.Title))
	fmt.Fprintf(&b, `<rect width="%d" height="%d" rx="8" fill="%s"/>`+"\n", width, height, windowBG)
	for i, c := range []string{"#ff5f57", "#febc2e", "#28c840"} {
		fmt.Fprintf(&b, `<circle cx="%d" cy="20" r="6" fill="%s"/>`+"\n", 22+20*i, c)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" font-family="%s" font-size="13" fill="%s">%s</text>`+"\n",
		width/2, titleY, fontFamily, titleFG, xmlText(o.Title))
	fmt.Fprintf(&b, `<g font-family="%s" font-size="%d">`+"\n", fontFamily, fontSize)
	for y, line := range scr.Lines {
		backgrounds(&b, line, y)
	}
	for y, line := range scr.Lines {
		texts(&b, line, y)
	}
	b.WriteString("</g>\n</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// backgrounds draws one rectangle per run of cells with one background.
func backgrounds(b *strings.Builder, line []Cell, y int) {
	col := 0
	for i := 0; i < len(line); {
		_, bg := line[i].Style.colors()
		start, n := col, 0
		for ; i < len(line); i++ {
			if _, bg2 := line[i].Style.colors(); bg2 != bg {
				break
			}
			n += line[i].Width
		}
		col += n
		if bg != "" {
			fmt.Fprintf(b, `<rect x="%s" y="%d" width="%s" height="%d" fill="%s"/>`+"\n",
				px(padX+float64(start)*cellW), padTop+y*cellH, px(float64(n)*cellW), cellH, bg)
		}
	}
}

// texts draws a line as one text element with a span per word: a run of
// printable ASCII characters of one style, each span placed at its
// column. Every other character (a wide one, a box-drawing line, a tick)
// is a span of its own, so a font whose advance differs from the cell,
// or a fallback font for a glyph, shifts nothing after it. Blanks are
// left out, unless underlined or struck through.
func texts(b *strings.Builder, line []Cell, y int) {
	var spans strings.Builder
	col := 0
	for i := 0; i < len(line); {
		c := line[i]
		st := c.Style
		drawn := c.Text != " " || st.Underline || st.Strikethrough
		if !drawn {
			col += c.Width
			i++
			continue
		}
		start := col
		var text strings.Builder
		for ; i < len(line) && line[i].Style == st; i++ {
			c := line[i]
			if text.Len() > 0 && (!word(c) || !word(line[i-1]) || c.Text == " " && !st.Underline && !st.Strikethrough) {
				break
			}
			text.WriteString(xmlText(c.Text))
			col += c.Width
		}
		fg, _ := st.colors()
		spans.WriteString(`<tspan x="` + px(padX+float64(start)*cellW) + `"`)
		if fg != defaultF {
			spans.WriteString(` fill="` + fg + `"`)
		}
		if st.Bold {
			spans.WriteString(` font-weight="bold"`)
		}
		if st.Dim {
			spans.WriteString(` opacity="0.6"`)
		}
		if st.Italic {
			spans.WriteString(` font-style="italic"`)
		}
		switch {
		case st.Underline && st.Strikethrough:
			spans.WriteString(` text-decoration="underline line-through"`)
		case st.Underline:
			spans.WriteString(` text-decoration="underline"`)
		case st.Strikethrough:
			spans.WriteString(` text-decoration="line-through"`)
		}
		spans.WriteString(">" + text.String() + "</tspan>")
	}
	if spans.Len() == 0 {
		return
	}
	// The baseline sits about a quarter of the line above its bottom.
	fmt.Fprintf(b, `<text y="%d" fill="%s" xml:space="preserve">%s</text>`+"\n", padTop+y*cellH+14, defaultF, spans.String())
}

// word reports whether a cell can share a span with its neighbours: a
// printable ASCII character one column wide.
func word(c Cell) bool {
	return len(c.Text) == 1 && c.Text[0] >= ' ' && c.Text[0] < 0x7f && c.Width == 1
}

// px formats a coordinate with at most one decimal.
func px(v float64) string {
	return strconv.FormatFloat(float64(int(v*10+0.5))/10, 'f', -1, 64)
}

// xmlText escapes s for XML character data and attribute values, and
// replaces characters XML 1.0 cannot hold with U+FFFD.
func xmlText(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '"':
			b.WriteString("&quot;")
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"),
			r < 0x20 && r != '\t' && r != '\n' && r != '\r',
			r >= 0xD800 && r <= 0xDFFF, r == 0xFFFE, r == 0xFFFF:
			b.WriteRune('\uFFFD')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
