package picker

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/list"
	tea "github.com/charmbracelet/bubbletea"
)

// delegate renders one compact row per host.
type delegate struct{ m *Model }

func (d delegate) Height() int                         { return 1 }
func (d delegate) Spacing() int                        { return 0 }
func (d delegate) Update(tea.Msg, *list.Model) tea.Cmd { return nil }

// Render writes: marker, name, host, store/profile, last knock.
func (d delegate) Render(w io.Writer, lm list.Model, index int, li list.Item) {
	e := li.(item).e
	width := lm.Width()
	cursor := "  "
	if index == lm.Index() {
		cursor = "> "
	}
	where := "ssh_config"
	if e.HasProfile {
		where = e.Store
		if e.Kind != "" && e.Kind != "sequence" {
			where += "/" + e.Kind
		}
	}
	last := "never knocked"
	if !e.LastAt.IsZero() {
		mark := "✓"
		if !e.LastOK {
			mark = "✗"
		}
		last = mark + " " + ago(e.LastAt)
	}
	host := e.Host
	if host == "" {
		host = "-"
	}
	nameW, hostW := 24, 28
	if width < 70 {
		// Narrow terminal: name and last result only.
		line := truncate(cursor+pad(e.Name, width/2)+" "+last, width)
		fmt.Fprint(w, d.style(index == lm.Index(), line))
		return
	}
	line := cursor + pad(truncate(e.Name, nameW), nameW) + " " + pad(truncate(host, hostW), hostW) + " " + pad(where, 14) + " " + last
	fmt.Fprint(w, d.style(index == lm.Index(), truncate(line, width)))
}

func (d delegate) style(selected bool, s string) string {
	if selected {
		return d.m.styles.sel.Render(s)
	}
	return s
}

func pad(s string, n int) string {
	if w := len([]rune(s)); w < n {
		return s + strings.Repeat(" ", n-w)
	}
	return s
}

// now is replaced in tests for stable output.
var now = time.Now

func ago(t time.Time) string {
	d := now().Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return t.Format("2006-01-02")
}
