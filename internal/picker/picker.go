// Package picker is the TUI host picker behind `knock pick`: a filterable
// list of every profile and every concrete ssh_config host, showing where
// each lives and how its last knock went, never a sequence. Enter knocks
// and hands the terminal to ssh; k knocks only; c sends the close
// sequence.
//
// The first frame shows what is cheap to read (ssh_config, the file store)
// and never waits for the keyring or DNS: slower sources arrive later and
// are merged in.
package picker

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/list"
	"github.com/charmbracelet/bubbles/spinner"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// Entry is one row: a host name with what is known about it.
type Entry struct {
	Name       string
	Host       string // host name or address, "" when unknown
	Store      string // "keyring", "file", or "" for ssh_config only
	HasProfile bool
	Kind       string // profile kind: "sequence", "spa", "otp"
	LastOK     bool
	LastAt     time.Time // zero: never knocked
	LastNote   string
}

// Actions performs what the keys ask for. Each call runs outside the UI
// goroutine and returns a one-line summary.
type Actions interface {
	Knock(ctx context.Context, name string) (string, error)
	Close(ctx context.Context, name string) (string, error)
}

// Forwards is what the f key needs; Actions may implement it. Forward
// starts the forwards a profile carries, or stops them when they run (the
// door closes); Forwarding returns one status line per running forward.
type Forwards interface {
	Forward(ctx context.Context, name string) (string, error)
	Forwarding() []string
}

// Source loads entries; it may report problems (a broken ssh_config
// line) and still return what it could read.
type Source func() ([]Entry, []error)

// Options configure Run.
type Options struct {
	Fast    Source // read before the first frame
	Slow    Source // read in the background (keyring), may be nil
	Actions Actions
	NoColor bool
	Input   io.Reader
	Output  io.Writer
	// Timeout bounds one knock or close; zero means 30 seconds.
	Timeout time.Duration
}

// Outcome is how the picker ended.
type Outcome struct {
	// SSH names the host to hand to ssh: Enter knocked it successfully.
	SSH string
	// Quit is set when the user left without a choice (q, Esc, Ctrl+C).
	Quit bool
}

// Run shows the picker until the user chooses or leaves.
func Run(opts Options) (Outcome, error) {
	m := New(opts)
	p := tea.NewProgram(m, tea.WithAltScreen(), tea.WithInput(opts.Input), tea.WithOutput(opts.Output))
	final, err := p.Run()
	if err != nil {
		return Outcome{}, err
	}
	return final.(*Model).outcome, nil
}

type item struct{ e Entry }

func (i item) FilterValue() string { return i.e.Name + " " + i.e.Host }

type slowLoadedMsg struct {
	entries []Entry
	errs    []error
}

type actionDoneMsg struct {
	name, action, summary string
	err                   error
	at                    time.Time
}

// Model is the bubbletea model; exported for tests.
type Model struct {
	opts     Options
	list     list.Model
	spin     spinner.Model
	busy     string // "knocking NAME" while an action runs
	status   string
	statusOK bool
	warnings []string
	help     bool
	fwd      []string // status lines of running forwards
	width    int
	height   int
	outcome  Outcome
	styles   styles
	keys     keys
}

type keys struct {
	enter, knock, close, forward, help, quit key.Binding
}

type styles struct {
	title, dim, ok, bad, sel, warn lipgloss.Style
}

func newStyles(noColor bool) styles {
	r := lipgloss.NewRenderer(io.Discard)
	if noColor {
		r.SetColorProfile(termenv.Ascii)
	} else {
		r.SetColorProfile(termenv.ANSI256)
	}
	return styles{
		title: r.NewStyle().Bold(true),
		dim:   r.NewStyle().Foreground(lipgloss.Color("245")),
		ok:    r.NewStyle().Foreground(lipgloss.Color("42")),
		bad:   r.NewStyle().Foreground(lipgloss.Color("203")),
		sel:   r.NewStyle().Bold(true).Foreground(lipgloss.Color("212")),
		warn:  r.NewStyle().Foreground(lipgloss.Color("214")),
	}
}

// New builds the model and reads the fast source.
func New(opts Options) *Model {
	m := &Model{opts: opts, styles: newStyles(opts.NoColor), width: 80, height: 24}
	var entries []Entry
	if opts.Fast != nil {
		var errs []error
		entries, errs = opts.Fast()
		m.addWarnings(errs)
	}
	d := delegate{m: m}
	l := list.New(toItems(sortEntries(entries)), d, m.width, m.listHeight())
	l.Title = "knock: pick a host"
	l.SetShowStatusBar(true)
	l.SetStatusBarItemName("host", "hosts")
	l.SetShowHelp(false)
	l.DisableQuitKeybindings()
	l.KeyMap.CursorUp = key.NewBinding(key.WithKeys("up", "ctrl+p"), key.WithHelp("↑", "up"))
	l.KeyMap.CursorDown = key.NewBinding(key.WithKeys("down", "ctrl+n", "j"), key.WithHelp("↓/j", "down"))
	l.KeyMap.ShowFullHelp.SetEnabled(false)
	l.KeyMap.CloseFullHelp.SetEnabled(false)
	if opts.NoColor {
		l.Styles.Title = lipgloss.NewStyle().Bold(true)
	}
	m.list = l
	m.spin = spinner.New(spinner.WithSpinner(spinner.Dot))
	m.keys = keys{
		enter:   key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "knock, then ssh")),
		knock:   key.NewBinding(key.WithKeys("k"), key.WithHelp("k", "knock only")),
		close:   key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "send close sequence")),
		forward: key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "start or stop the profile's forwards")),
		help:    key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		quit:    key.NewBinding(key.WithKeys("q", "esc", "ctrl+c"), key.WithHelp("q/esc", "quit")),
	}
	return m
}

func (m *Model) addWarnings(errs []error) {
	for _, e := range errs {
		if e != nil {
			m.warnings = append(m.warnings, e.Error())
		}
	}
}

func toItems(es []Entry) []list.Item {
	items := make([]list.Item, len(es))
	for i, e := range es {
		items[i] = item{e}
	}
	return items
}

func sortEntries(es []Entry) []Entry {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].HasProfile != es[j].HasProfile {
			return es[i].HasProfile
		}
		return es[i].Name < es[j].Name
	})
	return es
}

// merge folds entries from a slower source into the list: a profile found
// later upgrades the ssh_config-only row of the same name.
func merge(old []list.Item, add []Entry) []Entry {
	byName := make(map[string]int, len(old)+len(add))
	out := make([]Entry, 0, len(old)+len(add))
	for _, it := range old {
		e := it.(item).e
		byName[e.Name] = len(out)
		out = append(out, e)
	}
	for _, e := range add {
		if i, ok := byName[e.Name]; ok {
			cur := out[i]
			if e.Host == "" {
				e.Host = cur.Host
			}
			if e.LastAt.IsZero() {
				e.LastOK, e.LastAt, e.LastNote = cur.LastOK, cur.LastAt, cur.LastNote
			}
			if cur.HasProfile && !e.HasProfile {
				continue
			}
			out[i] = e
			continue
		}
		byName[e.Name] = len(out)
		out = append(out, e)
	}
	return sortEntries(out)
}

// Init starts the slow source.
func (m *Model) Init() tea.Cmd {
	if m.opts.Slow == nil {
		return nil
	}
	slow := m.opts.Slow
	return func() tea.Msg {
		es, errs := slow()
		return slowLoadedMsg{es, errs}
	}
}

func (m *Model) listHeight() int {
	h := m.height - 3 // status line, help line, warning line
	if len(m.warnings) > 0 {
		h--
	}
	h -= len(m.fwd)
	if h < 3 {
		h = 3
	}
	return h
}

// Update handles one message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.list.SetSize(msg.Width, m.listHeight())
		return m, nil
	case slowLoadedMsg:
		m.addWarnings(msg.errs)
		cmd := m.refilter(m.list.SetItems(toItems(merge(m.list.Items(), msg.entries))))
		m.list.SetSize(m.width, m.listHeight())
		return m, cmd
	case actionDoneMsg:
		cmd := m.finish(msg)
		return m, tea.Batch(cmd, m.pollForwards())
	case forwardTickMsg:
		return m, m.pollForwards()
	case spinner.TickMsg:
		if m.busy == "" {
			return m, nil
		}
		var cmd tea.Cmd
		m.spin, cmd = m.spin.Update(msg)
		return m, cmd
	case tea.KeyMsg:
		if m.list.SettingFilter() {
			break // typing a filter: every key goes to the list
		}
		if msg.Type == tea.KeyRunes && len(msg.Runes) > 1 && !msg.Paste {
			// Keys typed quickly arrive as one message ("/web"): take them
			// one at a time, so that "/" starts the filter and the rest
			// goes into it.
			_, first := m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: msg.Runes[:1]})
			_, rest := m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: msg.Runes[1:]})
			return m, tea.Batch(first, rest)
		}
		if msg.String() == "ctrl+c" {
			m.outcome.Quit = true
			return m, tea.Quit
		}
		if m.help {
			m.help = false
			return m, nil
		}
		if m.busy != "" {
			return m, nil // one action at a time
		}
		switch {
		case key.Matches(msg, m.keys.quit):
			if msg.String() == "esc" && m.list.IsFiltered() {
				break // esc first clears the filter
			}
			m.outcome.Quit = true
			return m, tea.Quit
		case key.Matches(msg, m.keys.help):
			m.help = true
			return m, nil
		case key.Matches(msg, m.keys.enter):
			return m, m.start("ssh")
		case key.Matches(msg, m.keys.knock):
			return m, m.start("knock")
		case key.Matches(msg, m.keys.close):
			return m, m.start("close")
		case key.Matches(msg, m.keys.forward):
			if _, ok := m.opts.Actions.(Forwards); ok {
				return m, m.start("forward")
			}
		}
	}
	if fm, ok := msg.(stampedMatches); ok {
		// Matches of an older filter text, arriving after newer ones,
		// would replace them: keep only those of the text shown.
		if fm.term != m.list.FilterValue() {
			return m, nil
		}
		msg = fm.matches
	}
	filtering := m.list.SettingFilter()
	var cmd tea.Cmd
	m.list, cmd = m.list.Update(msg)
	if filtering && cmd != nil {
		cmd = stamp(m.list.FilterValue(), cmd)
	}
	return m, cmd
}

// stampedMatches are filter matches with the filter text they are for.
type stampedMatches struct {
	term    string
	matches list.FilterMatchesMsg
}

// stamp makes the filter matches that cmd computes (the list filters in
// the background, one command per keystroke, and their results may come
// in any order) carry the filter text they were computed for.
func stamp(term string, cmd tea.Cmd) tea.Cmd {
	return func() tea.Msg {
		switch msg := cmd().(type) {
		case list.FilterMatchesMsg:
			return stampedMatches{term, msg}
		case tea.BatchMsg:
			for i, c := range msg {
				if c != nil {
					msg[i] = stamp(term, c)
				}
			}
			return msg
		default:
			return msg
		}
	}
}

func (m *Model) selected() (Entry, bool) {
	it, ok := m.list.SelectedItem().(item)
	return it.e, ok
}

// start runs an action on the selected entry in the background.
func (m *Model) start(action string) tea.Cmd {
	e, ok := m.selected()
	if !ok || m.opts.Actions == nil {
		return nil
	}
	verb := map[string]string{"close": "closing", "forward": "forwarding"}[action]
	if verb == "" {
		verb = "knocking"
	}
	m.busy = verb + " " + e.Name
	m.status = ""
	acts := m.opts.Actions
	timeout := m.opts.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	run := func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		var summary string
		var err error
		switch action {
		case "close":
			summary, err = acts.Close(ctx, e.Name)
		case "forward":
			summary, err = acts.(Forwards).Forward(ctx, e.Name)
		default:
			summary, err = acts.Knock(ctx, e.Name)
		}
		return actionDoneMsg{name: e.Name, action: action, summary: summary, err: err, at: time.Now()}
	}
	return tea.Batch(run, m.spin.Tick)
}

func (m *Model) finish(msg actionDoneMsg) tea.Cmd {
	m.busy = ""
	if msg.err != nil {
		m.status = fmt.Sprintf("✗ %s: %v", msg.name, msg.err)
		m.statusOK = false
	} else {
		m.status = fmt.Sprintf("✓ %s: %s", msg.name, msg.summary)
		m.statusOK = true
	}
	if msg.action == "knock" || msg.action == "ssh" {
		items := m.list.Items()
		for i, it := range items {
			e := it.(item).e
			if e.Name == msg.name {
				e.LastOK, e.LastAt, e.LastNote = msg.err == nil, msg.at, firstLine(m.status)
				m.refilter(m.list.SetItem(i, item{e}))
				break
			}
		}
	}
	if msg.action == "ssh" && msg.err == nil {
		m.outcome.SSH = msg.name
		return tea.Quit
	}
	return nil
}

type forwardTickMsg struct{}

// pollForwards reads the forwards' status lines, and keeps reading them
// every second while any runs.
func (m *Model) pollForwards() tea.Cmd {
	f, ok := m.opts.Actions.(Forwards)
	if !ok {
		return nil
	}
	before := len(m.fwd)
	m.fwd = f.Forwarding()
	if len(m.fwd) != before {
		m.list.SetSize(m.width, m.listHeight())
	}
	if len(m.fwd) == 0 {
		return nil
	}
	return tea.Tick(time.Second, func(time.Time) tea.Msg { return forwardTickMsg{} })
}

// refilter applies the filter that changing the items started, at once:
// the list would otherwise show no rows until the matches arrive, and an
// enter typed in between would drop the filter.
func (m *Model) refilter(cmd tea.Cmd) tea.Cmd {
	if cmd == nil || m.list.FilterState() == list.Unfiltered {
		return cmd
	}
	msg := cmd()
	if _, ok := msg.(list.FilterMatchesMsg); !ok {
		return func() tea.Msg { return msg }
	}
	var next tea.Cmd
	m.list, next = m.list.Update(msg)
	return next
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// View renders the screen.
func (m *Model) View() string {
	if m.help {
		return m.helpView()
	}
	var b strings.Builder
	if len(m.list.Items()) == 0 {
		b.WriteString(m.emptyView())
	} else {
		b.WriteString(m.list.View())
	}
	b.WriteString("\n")
	for _, l := range m.fwd {
		b.WriteString(m.styles.dim.Render(truncate(l, m.width)) + "\n")
	}
	if len(m.warnings) > 0 {
		w := m.warnings[0]
		if n := len(m.warnings); n > 1 {
			w += fmt.Sprintf(" (+%d more)", n-1)
		}
		b.WriteString(m.styles.warn.Render(truncate("! "+w, m.width)) + "\n")
	}
	switch {
	case m.busy != "":
		b.WriteString(truncate(m.spin.View()+" "+m.busy+"…", m.width))
	case m.status != "" && m.statusOK:
		b.WriteString(m.styles.ok.Render(truncate(m.status, m.width)))
	case m.status != "":
		b.WriteString(m.styles.bad.Render(truncate(m.status, m.width)))
	}
	b.WriteString("\n")
	b.WriteString(m.styles.dim.Render(truncate("enter knock+ssh · k knock · c close · f forwards · / filter · ? help · q quit", m.width)))
	return b.String()
}

func (m *Model) emptyView() string {
	lines := []string{
		m.styles.title.Render("knock: no hosts yet"),
		"",
		"No profiles and no Host entries in ~/.ssh/config were found.",
		"Add a profile, then run knock again:",
		"",
		"  knock profile add myserver --host server.example    (asks for the sequence, without echo)",
		"  knock profile import /etc/knockd.conf --host server.example",
		"",
		"See knock profile --help.",
	}
	for i := range lines {
		lines[i] = truncate(lines[i], m.width)
	}
	return strings.Join(lines, "\n")
}

func (m *Model) helpView() string {
	lines := []string{
		m.styles.title.Render("knock pick: keys"),
		"",
		"  enter     knock the host, verify, then run ssh; the close sequence follows ssh",
		"  k         knock only and stay here",
		"  c         send the close sequence",
		"  f         start the profile's forwards (knock forward NAME), or stop them",
		"  /         filter as you type (fuzzy); enter applies, esc clears",
		"  ↑/↓ j     move; pgup/pgdn page; g/G first/last",
		"  ?         this help (any key returns)",
		"  q esc     leave (exit code 130)",
		"",
		"Sequences and keys are never shown here: knock profile show NAME --reveal.",
	}
	for i := range lines {
		lines[i] = truncate(lines[i], m.width)
	}
	return strings.Join(lines, "\n")
}

// truncate cuts s to width display cells, ANSI sequences included.
func truncate(s string, width int) string {
	if width <= 0 || lipgloss.Width(s) <= width {
		return s
	}
	r := []rune(s)
	for len(r) > 0 && lipgloss.Width(string(r)) > width-1 {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}
