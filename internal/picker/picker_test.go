package picker

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/list"
	tea "github.com/charmbracelet/bubbletea"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var fixedNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

type fakeActions struct {
	knocked, closed []string
	fail            map[string]error
}

func (f *fakeActions) Knock(_ context.Context, name string) (string, error) {
	f.knocked = append(f.knocked, name)
	if err := f.fail[name]; err != nil {
		return "", err
	}
	return "port 22 open after 35ms", nil
}

func (f *fakeActions) Close(_ context.Context, name string) (string, error) {
	f.closed = append(f.closed, name)
	return "close sequence sent", nil
}

func testEntries() []Entry {
	return []Entry{
		{Name: "web", Host: "198.51.100.2", Store: "keyring", HasProfile: true, Kind: "sequence",
			LastOK: true, LastAt: fixedNow.Add(-5 * time.Minute)},
		{Name: "db", Host: "198.51.100.3", Store: "file", HasProfile: true, Kind: "spa"},
		{Name: "bastion", Host: "bastion.example.org"},
		{Name: "build-01", Host: "2001:db8::10"},
	}
}

// drive feeds messages to the model and runs the commands they return, as
// the bubbletea runtime would, dropping those still pending after a short
// wait (spinner and status timers).
func drive(t *testing.T, m *Model, msgs ...tea.Msg) {
	t.Helper()
	queue := append([]tea.Msg(nil), msgs...)
	for steps := 0; len(queue) > 0 && steps < 200; steps++ {
		msg := queue[0]
		queue = queue[1:]
		if batch, ok := msg.(tea.BatchMsg); ok {
			for _, c := range batch {
				queue = append(queue, runCmd(c)...)
			}
			continue
		}
		if _, ok := msg.(quitMsg); ok {
			continue
		}
		_, cmd := m.Update(msg)
		queue = append(queue, runCmd(cmd)...)
	}
}

type quitMsg struct{}

// cmdWait is how long drive waits for a command before dropping it.
var cmdWait = 150 * time.Millisecond

func runCmd(c tea.Cmd) []tea.Msg {
	if c == nil {
		return nil
	}
	ch := make(chan tea.Msg, 1)
	go func() { ch <- c() }()
	select {
	case msg := <-ch:
		if msg == nil {
			return nil
		}
		if _, ok := msg.(tea.QuitMsg); ok {
			return []tea.Msg{quitMsg{}}
		}
		return []tea.Msg{msg}
	case <-time.After(cmdWait):
		return nil
	}
}

func typed(s string) []tea.Msg {
	var msgs []tea.Msg
	for _, r := range s {
		msgs = append(msgs, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
	}
	return msgs
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from golden:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func newTestModel(t *testing.T, fast Source, slow Source, acts Actions) *Model {
	t.Helper()
	now = func() time.Time { return fixedNow }
	t.Cleanup(func() { now = time.Now })
	m := New(Options{Fast: fast, Slow: slow, Actions: acts, NoColor: true})
	drive(t, m, tea.WindowSizeMsg{Width: 100, Height: 14})
	drive(t, m, runCmd(m.Init())...)
	return m
}

func fastOf(es []Entry, errs ...error) Source {
	return func() ([]Entry, []error) { return es, errs }
}

func TestPickerList(t *testing.T) {
	m := newTestModel(t, fastOf(testEntries()), nil, &fakeActions{})
	v := m.View()
	if strings.Contains(v, "7000") {
		t.Fatal("a sequence leaked into the view")
	}
	golden(t, "list", v)
}

func TestPickerFilter(t *testing.T) {
	m := newTestModel(t, fastOf(testEntries()), nil, &fakeActions{})
	drive(t, m, typed("/bld")...)
	golden(t, "filter", m.View())
	if e, ok := m.selected(); !ok || e.Name != "build-01" {
		t.Fatalf("fuzzy filter 'bld' selected %+v", e)
	}
}

func TestPickerKnockOnlyStays(t *testing.T) {
	acts := &fakeActions{fail: map[string]error{"web": errors.New("198.51.100.2:22 did not open after 3 rounds")}}
	m := newTestModel(t, fastOf(testEntries()), nil, acts)
	drive(t, m, typed("k")...) // first row: db (profiles first, by name)
	if len(acts.knocked) != 1 || acts.knocked[0] != "db" || m.outcome.SSH != "" || m.outcome.Quit {
		t.Fatalf("k: knocked %v, outcome %+v", acts.knocked, m.outcome)
	}
	drive(t, m, tea.KeyMsg{Type: tea.KeyDown}) // web
	drive(t, m, typed("k")...)
	golden(t, "knock-failed", m.View())
	// Still usable: close works after a failure.
	drive(t, m, typed("c")...)
	if len(acts.closed) != 1 || acts.closed[0] != "web" {
		t.Fatalf("c: closed %v", acts.closed)
	}
}

func TestPickerBurstOfKeys(t *testing.T) {
	m := newTestModel(t, fastOf(testEntries()), nil, &fakeActions{})
	drive(t, m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("/bld")})
	if e, ok := m.selected(); !ok || e.Name != "build-01" || !m.list.SettingFilter() {
		t.Fatalf("a burst \"/bld\" did not filter: %+v", e)
	}
}

func TestPickerEnterHandsToSSH(t *testing.T) {
	acts := &fakeActions{}
	m := newTestModel(t, fastOf(testEntries()), nil, acts)
	drive(t, m, tea.KeyMsg{Type: tea.KeyEnter})
	if m.outcome.SSH != "db" {
		t.Fatalf("enter: outcome %+v", m.outcome)
	}
}

func TestPickerQuit(t *testing.T) {
	for _, k := range []tea.KeyMsg{{Type: tea.KeyRunes, Runes: []rune{'q'}}, {Type: tea.KeyEsc}, {Type: tea.KeyCtrlC}} {
		m := newTestModel(t, fastOf(testEntries()), nil, &fakeActions{})
		drive(t, m, k)
		if !m.outcome.Quit {
			t.Errorf("%s did not quit", k)
		}
	}
}

func TestPickerHelp(t *testing.T) {
	m := newTestModel(t, fastOf(testEntries()), nil, &fakeActions{})
	drive(t, m, typed("?")...)
	golden(t, "help", m.View())
	drive(t, m, typed("x")...)
	if m.help {
		t.Fatal("a key did not leave the help")
	}
}

func TestPickerEmptyAndBrokenConfig(t *testing.T) {
	m := newTestModel(t, fastOf(nil), nil, &fakeActions{})
	golden(t, "empty", m.View())
	bad := fmt.Errorf("/home/u/.ssh/config line 7: bad line %q", "Hostt web")
	m = newTestModel(t, fastOf(testEntries()[2:], bad), nil, &fakeActions{})
	golden(t, "broken-config", m.View())
}

func TestPickerSlowSourceMerges(t *testing.T) {
	slow := func() ([]Entry, []error) {
		return []Entry{{Name: "bastion", Store: "keyring", HasProfile: true, Kind: "otp"}}, nil
	}
	m := newTestModel(t, fastOf(testEntries()[2:]), slow, &fakeActions{})
	golden(t, "merged", m.View())
}

func TestPickerNarrowAndResize(t *testing.T) {
	m := newTestModel(t, fastOf(testEntries()), nil, &fakeActions{})
	drive(t, m, tea.WindowSizeMsg{Width: 40, Height: 10})
	v := m.View()
	for _, line := range strings.Split(v, "\n") {
		if w := len([]rune(line)); w > 40 {
			t.Errorf("line wider than 40 cells (%d): %q", w, line)
		}
	}
	golden(t, "narrow", v)
}

func TestPickerManyHosts(t *testing.T) {
	es := make([]Entry, 5000)
	for i := range es {
		es[i] = Entry{Name: fmt.Sprintf("host-%04d", i), Host: fmt.Sprintf("h%d.example.org", i)}
	}
	m := newTestModel(t, fastOf(es), nil, &fakeActions{})
	// Filtering 5000 hosts may take a while under the race detector: wait
	// for every command (a steady cursor starts no blink timers).
	m.list.FilterInput.Cursor.SetMode(cursor.CursorStatic)
	defer func(w time.Duration) { cmdWait = w }(cmdWait)
	cmdWait = 10 * time.Second
	drive(t, m, typed("/host-4321")...)
	if e, ok := m.selected(); !ok || e.Name != "host-4321" {
		t.Fatalf("filter over 5000 hosts selected %+v", e)
	}
}

func BenchmarkFirstFrame(b *testing.B) {
	es := make([]Entry, 5000)
	for i := range es {
		es[i] = Entry{Name: fmt.Sprintf("host-%04d", i), Host: fmt.Sprintf("h%d.example.org", i)}
	}
	for i := 0; i < b.N; i++ {
		m := New(Options{Fast: fastOf(es), NoColor: true})
		m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
		_ = m.View()
	}
}

// forwardActions also runs forwards.
type forwardActions struct {
	fakeActions
	running map[string]bool
}

func (f *forwardActions) Forward(_ context.Context, name string) (string, error) {
	if f.running[name] {
		delete(f.running, name)
		return "forwards stopped, door closed", nil
	}
	f.running[name] = true
	return "forwarding 127.0.0.1:15432 -> 5432", nil
}

func (f *forwardActions) Forwarding() []string {
	var lines []string
	for name := range f.running {
		lines = append(lines, "knock forward 127.0.0.1:15432 -> "+name+":5432  door open")
	}
	return lines
}

// f starts a profile's forwards and shows their status under the list;
// f again stops them. Without the Forwards interface, f does nothing.
func TestForwardKey(t *testing.T) {
	acts := &forwardActions{running: map[string]bool{}}
	m := New(Options{Fast: func() ([]Entry, []error) { return testEntries(), nil }, Actions: acts, NoColor: true})
	drive(t, m, tea.WindowSizeMsg{Width: 100, Height: 20})
	drive(t, m, typed("f")...) // db, the first profile
	if !acts.running["db"] || !strings.Contains(m.View(), "knock forward 127.0.0.1:15432 -> db:5432  door open") || !strings.Contains(m.View(), "✓ db: forwarding") {
		t.Fatalf("after f:\n%s", m.View())
	}
	drive(t, m, typed("f")...)
	if acts.running["db"] || strings.Contains(m.View(), "knock forward 127.0.0.1") {
		t.Fatalf("after a second f:\n%s", m.View())
	}
	plain := New(Options{Fast: func() ([]Entry, []error) { return testEntries(), nil }, Actions: &fakeActions{}, NoColor: true})
	drive(t, plain, typed("f")...)
	if strings.Contains(plain.View(), "forwarding") {
		t.Fatalf("f without forwards:\n%s", plain.View())
	}
}

// The matches of an older filter text, arriving late, do not replace
// those of the text shown (bubbles filters each keystroke in the
// background, and a loaded machine may finish them out of order).
func TestStaleFilterMatchesDropped(t *testing.T) {
	m := newTestModel(t, fastOf(testEntries()), nil, &fakeActions{})
	drive(t, m, typed("/web")...)
	before := m.View()
	if !strings.Contains(before, "web") || strings.Contains(before, "bastion") {
		t.Fatalf("filter web:\n%s", before)
	}
	// Matches computed for "w" (empty here: what an old filter might
	// have found) come last.
	m.Update(stampedMatches{term: "w", matches: list.FilterMatchesMsg(nil)})
	if after := m.View(); after != before {
		t.Fatalf("stale matches applied:\n%s", after)
	}
}
