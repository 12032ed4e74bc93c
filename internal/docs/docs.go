// Package docs reads knock's markdown pages (README.md, CONTRIBUTING.md,
// docs/*.md) for the two things that keep them true.
//
// Generated regions repeat the command reference. A region starts with a
// line `<!-- generated: KEY -->` and ends with `<!-- end generated -->`;
// KEY names what belongs there ("knock ssh", "exit codes"). [Splice]
// replaces every region's content with what a generator makes for its
// key: scripts/gendocs does that from the command tree, and
// scripts/check-generated.sh fails when a page is stale.
//
// Marked code blocks are examples a test runs (internal/docs's
// TestRunnableDocs). A fenced block directly after a line
//
//	<!-- run -->                         runs it (sh, or python3 for python)
//	<!-- run exit=2 -->                  ... and expects exit status 2
//	<!-- run stdin="7000,8000\n" -->     ... with this standard input (a Go string)
//	<!-- run lines=1-2,4 -->             ... only these lines of it
//	<!-- file: PATH -->                  writes it to PATH (~/ is the home directory)
//	<!-- file: PATH mode=0600 -->        ... with this mode
//
// is marked ([Block.Run], [Block.File]). Blocks that need root, a network
// or a real server stay unmarked.
package docs

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// Block is a fenced code block of a page.
type Block struct {
	Line int    // line of the opening fence, from 1
	Lang string // first word of the info string ("sh", "python", "")
	Body string // the lines inside the fences, each ending in "\n"

	Run  *Run  // set when the block is marked to run
	File *File // set when the block is marked as a file to write
}

// Run is a block's run marker.
type Run struct {
	Exit  int    // the exit status expected
	Stdin string // the standard input
	Lines []Span // the lines of the block to run; none runs them all
}

// Span is a range of lines of a block, from 1, both ends included.
type Span struct{ From, To int }

// File is a block's file marker.
type File struct {
	Path string
	Mode fs.FileMode // 0644 unless given
}

// Lines returns the lines of the block that a run executes.
func (b Block) Lines() string {
	if b.Run == nil || len(b.Run.Lines) == 0 {
		return b.Body
	}
	lines := strings.SplitAfter(b.Body, "\n")
	var out strings.Builder
	for _, sp := range b.Run.Lines {
		out.WriteString(strings.Join(lines[sp.From-1:sp.To], ""))
	}
	return out.String()
}

// Region is a generated region of a page.
type Region struct {
	Key        string
	Line       int // line of the begin marker, from 1
	start, end int // byte offsets of the content: after the begin line, before the end line
}

const (
	beginPrefix = "<!-- generated: "
	endLine     = "<!-- end generated -->"
	runPrefix   = "<!-- run"
	filePrefix  = "<!-- file: "
	commentEnd  = "-->"
)

// Page is a parsed page.
type Page struct {
	Blocks  []Block
	Regions []Region
}

// Parse reads a page's fenced code blocks, their markers and its
// generated regions. A marker that is malformed or not followed by a
// fenced block, a region without its end (or nested in another), and an
// unclosed fence are errors naming the line.
func Parse(src string) (Page, error) {
	var (
		p       Page
		pending *Block // a marker seen on the line before
		pendLn  int
		region  *Region
		off     int
	)
	lines := strings.SplitAfter(src, "\n")
	for i := 0; i < len(lines); i++ {
		raw := lines[i]
		ln := i + 1
		line := strings.TrimRight(raw, "\r\n")
		lineStart := off
		off += len(raw)

		if fence, lang, ok := openFence(line); ok {
			b := Block{Line: ln, Lang: lang}
			if pending != nil {
				b.Run, b.File = pending.Run, pending.File
				pending = nil
			}
			var body strings.Builder
			closed := false
			for i++; i < len(lines); i++ {
				off += len(lines[i])
				if closesFence(strings.TrimRight(lines[i], "\r\n"), fence) {
					closed = true
					break
				}
				body.WriteString(strings.TrimRight(lines[i], "\r\n") + "\n")
			}
			if !closed {
				return p, fmt.Errorf("line %d: code block not closed", ln)
			}
			b.Body = body.String()
			if n := strings.Count(b.Body, "\n"); b.Run != nil && len(b.Run.Lines) > 0 && b.Run.Lines[len(b.Run.Lines)-1].To > n {
				return p, fmt.Errorf("line %d: lines= goes to line %d, but the block has %d lines", pendLn, b.Run.Lines[len(b.Run.Lines)-1].To, n)
			}
			p.Blocks = append(p.Blocks, b)
			continue
		}
		if pending != nil {
			return p, fmt.Errorf("line %d: a marker must be followed by a fenced code block", pendLn)
		}
		trim := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trim, beginPrefix):
			if region != nil {
				return p, fmt.Errorf("line %d: generated region inside the region of line %d", ln, region.Line)
			}
			key, ok := strings.CutSuffix(strings.TrimPrefix(trim, beginPrefix), commentEnd)
			key = strings.TrimSpace(key)
			if !ok || key == "" {
				return p, fmt.Errorf("line %d: want %sKEY %s", ln, beginPrefix, commentEnd)
			}
			region = &Region{Key: key, Line: ln, start: off}
		case trim == endLine:
			if region == nil {
				return p, fmt.Errorf("line %d: %s without a region", ln, endLine)
			}
			region.end = lineStart
			p.Regions = append(p.Regions, *region)
			region = nil
		case strings.HasPrefix(trim, runPrefix) && (len(trim) == len(runPrefix) || trim[len(runPrefix)] == ' '),
			strings.HasPrefix(trim, filePrefix):
			b, err := marker(trim)
			if err != nil {
				return p, fmt.Errorf("line %d: %w", ln, err)
			}
			pending, pendLn = &b, ln
		}
	}
	if pending != nil {
		return p, fmt.Errorf("line %d: a marker must be followed by a fenced code block", pendLn)
	}
	if region != nil {
		return p, fmt.Errorf("line %d: generated region without %s", region.Line, endLine)
	}
	return p, nil
}

// openFence recognises an opening code fence: up to three spaces, then
// three or more backticks or tildes, then the info string.
func openFence(line string) (fence, lang string, ok bool) {
	s := strings.TrimLeft(line, " ")
	if len(line)-len(s) > 3 || len(s) < 3 || (s[0] != '`' && s[0] != '~') {
		return "", "", false
	}
	n := len(s) - len(strings.TrimLeft(s, s[:1]))
	if n < 3 {
		return "", "", false
	}
	info := strings.TrimSpace(s[n:])
	if s[0] == '`' && strings.Contains(info, "`") {
		return "", "", false
	}
	lang, _, _ = strings.Cut(info, " ")
	return s[:n], lang, true
}

// closesFence reports whether line closes a block opened by fence: the
// same character, at least as many, nothing after but blanks.
func closesFence(line, fence string) bool {
	s := strings.TrimLeft(line, " ")
	if len(line)-len(s) > 3 {
		return false
	}
	s = strings.TrimRight(s, " \t")
	return len(s) >= len(fence) && strings.Trim(s, fence[:1]) == ""
}

// marker parses a run or file marker line.
func marker(line string) (Block, error) {
	inner, ok := strings.CutSuffix(line, commentEnd)
	if !ok {
		return Block{}, errors.New("a marker ends with " + commentEnd + " on its line")
	}
	inner = strings.TrimSpace(strings.TrimPrefix(inner, "<!--"))
	var b Block
	var attrs string
	if rest, ok := strings.CutPrefix(inner, "file:"); ok {
		rest = strings.TrimSpace(rest)
		path, more, _ := strings.Cut(rest, " ")
		if path == "" {
			return b, errors.New("file: needs a path")
		}
		b.File = &File{Path: path, Mode: 0o644}
		attrs = more
	} else {
		b.Run = &Run{}
		attrs = strings.TrimPrefix(inner, "run")
	}
	for attrs = strings.TrimSpace(attrs); attrs != ""; attrs = strings.TrimSpace(attrs) {
		key, rest, ok := strings.Cut(attrs, "=")
		if !ok || key == "" || strings.ContainsAny(key, " \"") {
			return b, fmt.Errorf("bad attribute %q: want key=value", attrs)
		}
		var val string
		if strings.HasPrefix(rest, `"`) {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return b, fmt.Errorf("%s: bad string %s", key, rest)
			}
			val, _ = strconv.Unquote(q)
			attrs = rest[len(q):]
		} else {
			val, attrs, _ = strings.Cut(rest, " ")
		}
		if err := b.set(key, val); err != nil {
			return b, err
		}
	}
	return b, nil
}

// set applies one attribute of a marker.
func (b *Block) set(key, val string) error {
	switch {
	case b.File != nil && key == "mode":
		m, err := strconv.ParseUint(val, 8, 12)
		if err != nil {
			return fmt.Errorf("mode=%s: want an octal mode such as 0600", val)
		}
		b.File.Mode = fs.FileMode(m)
	case b.Run != nil && key == "exit":
		n, err := strconv.Atoi(val)
		if err != nil || n < 0 || n > 255 {
			return fmt.Errorf("exit=%s: want 0..255", val)
		}
		b.Run.Exit = n
	case b.Run != nil && key == "stdin":
		b.Run.Stdin = val
	case b.Run != nil && key == "lines":
		// Ranges in order, each after the one before: 1-2,4,6-7.
		last := 0
		for _, r := range strings.Split(val, ",") {
			from, to, isRange := strings.Cut(r, "-")
			if !isRange {
				to = from
			}
			f, err1 := strconv.Atoi(from)
			t, err2 := strconv.Atoi(to)
			if err1 != nil || err2 != nil || f <= last || t < f {
				return fmt.Errorf("lines=%s: want ranges such as 1-2,4 in order, from 1", val)
			}
			b.Run.Lines = append(b.Run.Lines, Span{f, t})
			last = t
		}
	default:
		return fmt.Errorf("unknown attribute %q", key)
	}
	return nil
}

// Splice returns src with the content of every generated region replaced
// by gen(key), and the keys in page order. gen's text should end with a
// newline; the region keeps its begin and end lines.
func Splice(src string, gen func(key string) (string, error)) (string, []string, error) {
	p, err := Parse(src)
	if err != nil {
		return "", nil, err
	}
	var b strings.Builder
	var keys []string
	last := 0
	for _, r := range p.Regions {
		text, err := gen(r.Key)
		if err != nil {
			return "", nil, fmt.Errorf("line %d: %w", r.Line, err)
		}
		if text != "" && !strings.HasSuffix(text, "\n") {
			text += "\n"
		}
		b.WriteString(src[last:r.start])
		b.WriteString(text)
		last = r.end
		keys = append(keys, r.Key)
	}
	b.WriteString(src[last:])
	return b.String(), keys, nil
}

// Content returns the current content of region r of src.
func (r Region) Content(src string) string { return src[r.start:r.end] }
