package profiles

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// memKeyring is an in-memory [Backend] that enforces the Windows item
// limit and can be told to fail.
type memKeyring struct {
	mu      sync.Mutex
	items   map[string]string
	failSet func(account string) bool
	maxSeen int
}

func newMem() *memKeyring { return &memKeyring{items: map[string]string{}} }

func (m *memKeyring) Get(a string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.items[a]
	if !ok {
		return "", ErrItemNotFound
	}
	return s, nil
}

func (m *memKeyring) Set(a, s string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failSet != nil && m.failSet(a) {
		return errors.New("injected failure")
	}
	if len(s) > 2560 {
		return fmt.Errorf("item %s: %d bytes exceeds the Windows limit", a, len(s))
	}
	m.maxSeen = max(m.maxSeen, len(s))
	m.items[a] = s
	return nil
}

func (m *memKeyring) Delete(a string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.items[a]; !ok {
		return ErrItemNotFound
	}
	delete(m.items, a)
	return nil
}

func newKeyringStores(t *testing.T, m *memKeyring) *Stores {
	t.Helper()
	s, err := New(Options{Dir: t.TempDir(), Keyring: m})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestKeyringManyProfiles(t *testing.T) {
	m := newMem()
	s := newKeyringStores(t, m)
	const n = 300
	for i := 0; i < n; i++ {
		host := fmt.Sprintf("h%d.example.net", i)
		if i%10 == 0 {
			host = strings.Repeat("h", 240) + fmt.Sprint(i)
		}
		p := &Profile{Name: fmt.Sprintf("host-%03d", i), Host: host,
			Open: "7000,8000:udp,9000", Notes: strings.Repeat("n", i*13%MaxNotesLen)}
		if err := s.Add(p, StoreKeyring); err != nil {
			t.Fatalf("add %d: %v", i, err)
		}
	}
	if m.maxSeen > maxItem {
		t.Errorf("largest item %d bytes > %d", m.maxSeen, maxItem)
	}
	es, err := s.List()
	if err != nil || len(es) != n {
		t.Fatalf("list: %d entries, %v", len(es), err)
	}
	p, st, err := s.Get("host-299")
	if err != nil || st != StoreKeyring || len(p.Notes) != 299*13%MaxNotesLen {
		t.Fatalf("get: %v %v %+v", st, err, p)
	}
	// Edit in place with the longest host, then remove every other one.
	if err := s.Update("host-005", func(p *Profile) error { p.Host = strings.Repeat("x", MaxHostLen); return nil }); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i += 2 {
		if _, err := s.Delete(fmt.Sprintf("host-%03d", i)); err != nil {
			t.Fatal(err)
		}
	}
	es, _ = s.List()
	if len(es) != n/2 {
		t.Errorf("%d left, want %d", len(es), n/2)
	}
	for i := 1; i < n; i += 2 {
		if _, err := s.Delete(fmt.Sprintf("host-%03d", i)); err != nil {
			t.Fatal(err)
		}
	}
	// Everything is gone but the (empty) root: no orphans.
	if len(m.items) != 1 {
		t.Errorf("items left: %v", keys(m.items))
	}
	if got := s.Names(); len(got) != 0 {
		t.Errorf("names file still lists %v", got)
	}
}

func keys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func TestKeyringDuplicateAndNotFound(t *testing.T) {
	s := newKeyringStores(t, newMem())
	p := &Profile{Name: "a", Open: "1"}
	if err := s.Add(p, StoreKeyring); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(&Profile{Name: "a", Open: "2"}, StoreFile); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate across stores: %v", err)
	}
	if _, _, err := s.Get("b"); !errors.Is(err, ErrNotFound) {
		t.Errorf("get: %v", err)
	}
	if err := s.Update("b", func(*Profile) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("update: %v", err)
	}
	if _, err := s.Delete("b"); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete: %v", err)
	}
}

// A failed write leaves the previous profile intact.
func TestKeyringFailedWriteKeepsOld(t *testing.T) {
	m := newMem()
	s := newKeyringStores(t, m)
	if err := s.Add(&Profile{Name: "a", Open: "1,2,3", Notes: strings.Repeat("x", 3000)}, StoreKeyring); err != nil {
		t.Fatal(err)
	}
	for _, failOn := range []string{"profile.a.", "index.1"} {
		m.failSet = func(a string) bool { return strings.HasPrefix(a, failOn) }
		err := s.Update("a", func(p *Profile) error { p.Open = "4,5,6"; return nil })
		m.failSet = nil
		if err == nil {
			t.Fatalf("fail on %s: update succeeded", failOn)
		}
		p, _, err := s.Get("a")
		if err != nil || p.Open != "1:tcp,2:tcp,3:tcp" {
			t.Fatalf("fail on %s: profile now %+v, %v", failOn, p, err)
		}
	}
	// Only the profile's two parts, the shard and the root remain.
	if len(m.items) != 4 {
		t.Errorf("items: %v", keys(m.items))
	}
}

func TestKeyringCorruption(t *testing.T) {
	for _, tc := range []struct{ item, value string }{
		{"index", "{"},
		{"index", `{"format":"knock-keyring-index","v":1,"shards":[9],"next":2}`},
		{"index.1", `{"format":"knock-keyring-shard","v":1,"entries":[{"n":"a","g":"zz","p":1}]}`},
		{"index.1", "garbage"},
		{"part", `{"format":"knock-profile","v":1,"profile":{"name":"b","open":"1"}}`},
		{"part", "\x00"},
		{"part", ""},
	} {
		m := newMem()
		s := newKeyringStores(t, m)
		if err := s.Add(&Profile{Name: "a", Open: "1"}, StoreKeyring); err != nil {
			t.Fatal(err)
		}
		item := tc.item
		if item == "part" {
			for k := range m.items {
				if strings.HasPrefix(k, "profile.a.") {
					item = k
				}
			}
		}
		m.items[item] = tc.value
		before := len(m.items)
		_, _, err := s.Get("a")
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s=%q: get: %v", tc.item, tc.value, err)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("multi-line error %q", err)
		}
		// Writes refuse to build on a corrupt index.
		if tc.item != "part" {
			if err := s.Add(&Profile{Name: "c", Open: "1"}, StoreKeyring); err == nil {
				t.Errorf("%s=%q: add on a corrupt index succeeded", tc.item, tc.value)
			}
			if len(m.items) != before {
				t.Errorf("%s: items changed", tc.item)
			}
		}
	}
	// A missing part.
	m := newMem()
	s := newKeyringStores(t, m)
	_ = s.Add(&Profile{Name: "a", Open: "1"}, StoreKeyring)
	for k := range m.items {
		if strings.HasPrefix(k, "profile.") {
			delete(m.items, k)
		}
	}
	if _, _, err := s.Get("a"); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing part: %v", err)
	}
}

func TestNoKeyringFallsBackToFile(t *testing.T) {
	s, err := New(Options{Dir: t.TempDir(), NoKeyring: true})
	if err != nil {
		t.Fatal(err)
	}
	to, notice, err := s.Choose("")
	if err != nil || to != StoreFile || !strings.Contains(notice, "file store") {
		t.Errorf("choose: %v %q %v", to, notice, err)
	}
	if _, _, err := s.Choose(StoreKeyring); !errors.Is(err, ErrNoKeyring) {
		t.Errorf("explicit keyring: %v", err)
	}
	if err := s.Add(&Profile{Name: "a", Open: "1"}, StoreFile); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get("zz"); !errors.Is(err, ErrNotFound) {
		t.Errorf("not found: %v", err)
	}
}

func TestProfileMove(t *testing.T) {
	m := newMem()
	s := newKeyringStores(t, m)
	if err := s.Add(&Profile{Name: "a", Open: "1"}, StoreFile); err != nil {
		t.Fatal(err)
	}
	if err := s.Move("a", StoreKeyring); err != nil {
		t.Fatal(err)
	}
	if _, st, err := s.Get("a"); err != nil || st != StoreKeyring {
		t.Fatalf("%v %v", st, err)
	}
	es, _ := s.List()
	if len(es) != 1 {
		t.Errorf("%v", es)
	}
}
