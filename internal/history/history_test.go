package history

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func testStore(t *testing.T) *Store {
	t.Helper()
	return At(filepath.Join(t.TempDir(), "knock", "history.json"))
}

func TestUpdateLoad(t *testing.T) {
	s := testStore(t)
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	if err := s.Update("web", func(r *Record) { r.OK, r.Summary, r.At = true, "open after 40ms", at }); err != nil {
		t.Fatal(err)
	}
	if err := s.Update("db", func(r *Record) { r.Summary, r.At = "port 22 did not open", at }); err != nil {
		t.Fatal(err)
	}
	// An update keeps what it does not change.
	if err := s.Update("web", func(r *Record) { r.Pending += 2 }); err != nil {
		t.Fatal(err)
	}
	m, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if !m["web"].OK || m["web"].Pending != 2 || m["db"].OK || !m["web"].At.Equal(at) || len(m) != 2 {
		t.Fatalf("loaded %+v", m)
	}
	st, err := os.Stat(s.Path())
	if err != nil || st.Mode().Perm()&0o077 != 0 {
		t.Errorf("history file %v, mode %v: want it private", err, st.Mode())
	}
	os.WriteFile(s.Path(), []byte("{corrupt"), 0o600)
	if _, err := s.Load(); err == nil {
		t.Fatal("corrupt history loaded without error")
	}
	if r := s.Get("web"); r.Pending != 0 || r.OK {
		t.Errorf("Get of a corrupt history: %+v, want the zero record", r)
	}
	if err := s.Update("web", func(r *Record) { r.OK = true }); err != nil {
		t.Fatalf("a corrupt history must be replaced: %v", err)
	}
	if r := s.Get("web"); !r.OK {
		t.Errorf("after replacing: %+v", r)
	}
}

func TestMissingFile(t *testing.T) {
	s := testStore(t)
	if m, err := s.Load(); err != nil || len(m) != 0 {
		t.Fatalf("%v %v", m, err)
	}
}

func TestDefaultPath(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_STATE_HOME", dir)
	s, err := Default()
	if err != nil || s.Path() != filepath.Join(dir, "knock", "history.json") {
		t.Fatalf("%v %v", s, err)
	}
	if err := s.Update("x", func(r *Record) { r.OK = true }); err != nil {
		t.Fatal(err)
	}
	if m, err := Load(); err != nil || !m["x"].OK {
		t.Fatalf("Load: %v %v", m, err)
	}
}

// Concurrent writers (knock processes) lose no update: each takes the
// lock file, and the flock of one open file excludes another's even in
// one process.
func TestConcurrentUpdates(t *testing.T) {
	s := testStore(t)
	const writers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				errs <- s.Update("door", func(r *Record) {
					r.Pending++
					r.AddSample(Sample{Rounds: 1, Open: time.Duration(w*each+i) * time.Millisecond})
				})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	r := s.Get("door")
	if r.Pending != min(writers*each, MaxPending) {
		t.Errorf("pending %d after %d concurrent increments", r.Pending, writers*each)
	}
	if len(r.Samples) != MaxSamples {
		t.Errorf("%d samples, want the newest %d", len(r.Samples), MaxSamples)
	}
}

// Every bound holds, whatever the file says.
func TestBounds(t *testing.T) {
	var r Record
	for i := range MaxSamples + 3 {
		r.AddSample(Sample{Rounds: 1, Open: time.Duration(i)})
	}
	if len(r.Samples) != MaxSamples || r.Samples[0].Open != 3 {
		t.Errorf("samples %+v: want the newest %d", r.Samples, MaxSamples)
	}
	m, err := Decode([]byte(`{"a":{"pending":100000,"summary":"` + strings.Repeat("é", 400) + `",
		"samples":[{"rounds":0,"open":1},{"rounds":1,"open":-5},{"rounds":1,"open":9000000000000},{"rounds":1,"rtt":-1,"open":1},{"rounds":2,"open":7}]},
		"b":{"pending":-3,"settle":"2026-01-01T00:00:00Z"}}`))
	if err != nil {
		t.Fatal(err)
	}
	a := m["a"]
	if a.Pending != MaxPending || len(a.Summary) > maxSummary || !strings.HasPrefix(a.Summary, "é") || strings.ContainsRune(a.Summary, '\uFFFD') {
		t.Errorf("record a: pending %d, summary of %d bytes", a.Pending, len(a.Summary))
	}
	if len(a.Samples) != 1 || a.Samples[0].Open != 7 {
		t.Errorf("samples %+v: want only the measurement that makes sense", a.Samples)
	}
	if b := m["b"]; b.Pending != 0 || !b.Settle.IsZero() {
		t.Errorf("record b: %+v", b)
	}
	if m, err := Decode([]byte("null")); err != nil || m == nil {
		t.Errorf("null: %v %v", m, err)
	}

	// A full file loses its oldest record to a new one.
	full := map[string]Record{}
	for i := range MaxRecords {
		full[fmt.Sprintf("h%04d", i)] = Record{At: time.Unix(int64(1000+i), 0)}
	}
	full["h0042"] = Record{At: time.Unix(1, 0)}
	b, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	s := testStore(t)
	os.MkdirAll(filepath.Dir(s.Path()), 0o700)
	if err := os.WriteFile(s.Path(), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Update("new", func(r *Record) { r.At = time.Now() }); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got["h0042"]; len(got) != MaxRecords || ok || got["new"].At.IsZero() {
		t.Fatalf("%d records, the oldest kept %v", len(got), ok)
	}
}

// Whatever a history file holds, Decode returns records within the
// bounds, or an error.
func FuzzDecode(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.json")
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		if len(m) > MaxRecords {
			t.Fatalf("%d records", len(m))
		}
		for k, r := range m {
			if r.Pending < 0 || r.Pending > MaxPending || len(r.Samples) > MaxSamples || len(r.Summary) > maxSummary {
				t.Fatalf("%q out of bounds: %+v", k, r)
			}
			for _, s := range r.Samples {
				if s.Rounds < 1 || s.Open < 0 || s.RTT < 0 || s.Open > maxDuration || s.RTT > maxDuration {
					t.Fatalf("%q: sample %+v", k, s)
				}
			}
		}
	})
}

// A history written before timings and counts were kept loads as it was.
func TestOlderFile(t *testing.T) {
	b, err := os.ReadFile("testdata/picker-only.json")
	if err != nil {
		t.Fatal(err)
	}
	m, err := Decode(b)
	if err != nil || !m["web"].OK || m["db"].OK || m["db"].Summary != "port 22 did not open" || len(m["web"].Samples) != 0 {
		t.Fatalf("%+v %v", m, err)
	}
}
