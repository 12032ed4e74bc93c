// Package history remembers, per host name, how its knocks went: the
// last result, which the picker shows; the timings of its recent verified
// opens, from which the verify loop learns when to replay (internal/door);
// and how many rounds of its open action may have opened the door since
// it was last closed, so that a later `knock close NAME` closes as often.
//
// It stores no secrets: names, counts, durations and times, and a short
// summary that is an error text at worst (error texts never carry
// secrets). The file is JSON in the user's state directory, bounded
// ([MaxRecords], [MaxSamples], [MaxPending], [maxSummary]) and replaced
// atomically; writers take a lock file first, so concurrent knocks lose
// no update.
package history

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/a-knock/knock/internal/filelock"
	"github.com/a-knock/knock/internal/safeio"
)

// Record is what is known about the knocks of one name.
type Record struct {
	// The last knock: the picker shows it.
	OK      bool      `json:"ok"`
	Summary string    `json:"summary"`
	At      time.Time `json:"at"`

	// Samples are the most recent verified opens, oldest first, at most
	// MaxSamples.
	Samples []Sample `json:"samples,omitempty"`
	// Pending counts the rounds of the open action played since the
	// door was last closed: each may have run the door's command. At
	// most MaxPending.
	Pending int `json:"pending,omitempty"`
	// Settle is when the last of those rounds has had time to run its
	// command: a close played earlier could run before that command
	// and leave its rule behind.
	Settle time.Time `json:"settle,omitzero"`
	// OpenBefore says that the wait port accepted a connection before the
	// last verified open knocked: it does not show whether the door is
	// open.
	OpenBefore bool `json:"open_before,omitempty"`
}

// Sample is what one verified open measured. Durations are in
// nanoseconds in the file.
type Sample struct {
	At     time.Time `json:"at"`
	Rounds int       `json:"rounds"` // rounds played until the port was seen open
	// RTT is the connect time of the probe that saw the port open: the
	// round-trip time. 0 when unknown (that probe's first SYN was lost).
	RTT time.Duration `json:"rtt,omitempty"`
	// Open is the time from the last knock of the last round to the port
	// seen open.
	Open time.Duration `json:"open"`
}

// Bounds of the file.
const (
	MaxRecords = 2000
	MaxSamples = 6
	MaxPending = 128
	maxSummary = 300
	// maxDuration bounds a stored duration: no knock waits longer.
	maxDuration = time.Hour
	// lockWait bounds the wait for another writer.
	lockWait = 3 * time.Second
)

// Store is one history file.
type Store struct{ path string }

// At returns the store in the file at path.
func At(path string) *Store { return &Store{path: path} }

// Default returns the user's store: $XDG_STATE_HOME/knock/history.json,
// else knock/history.json in the user cache directory.
func Default() (*Store, error) {
	p, err := Path()
	if err != nil {
		return nil, err
	}
	return At(p), nil
}

// Path returns the user's history file (see [Default]).
func Path() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "knock", "history.json"), nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "knock", "history.json"), nil
}

// Path returns the file of s.
func (s *Store) Path() string { return s.path }

// Load reads the user's history (see [Store.Load]).
func Load() (map[string]Record, error) {
	s, err := Default()
	if err != nil {
		return nil, err
	}
	return s.Load()
}

// Load reads every record. A missing file is an empty history.
func (s *Store) Load() (map[string]Record, error) {
	b, err := safeio.ReadFile(s.path, safeio.StoreLimit)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]Record{}, nil
	}
	if err != nil {
		return nil, err
	}
	m, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.path, err)
	}
	return m, nil
}

// Get returns the record of name; the zero Record when there is none or
// the file cannot be read.
func (s *Store) Get(name string) Record {
	m, err := s.Load()
	if err != nil {
		return Record{}
	}
	return m[name]
}

// Decode parses a history file and brings every record within the
// bounds: a file edited by hand or written by a future version never
// makes knock wait for hours or close a thousand times.
func Decode(b []byte) (map[string]Record, error) {
	m := map[string]Record{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if m == nil { // the file says null
		m = map[string]Record{}
	}
	for k, r := range m {
		r.bound()
		m[k] = r
	}
	bound(m)
	return m, nil
}

// Update changes the record of name with fn and writes the file, under
// its lock: concurrent updates all land. A corrupt file is replaced.
func (s *Store) Update(name string, fn func(*Record)) error {
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	lock, err := filelock.Acquire(s.path+".lock", lockWait)
	if err != nil {
		return err
	}
	defer lock.Release()
	m, err := s.Load()
	if err != nil {
		m = map[string]Record{} // a corrupt history is replaced, never fatal
	}
	r := m[name]
	fn(&r)
	r.bound()
	m[name] = r
	bound(m)
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".history-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), s.path)
}

// AddSample appends a sample, dropping the oldest beyond MaxSamples.
func (r *Record) AddSample(s Sample) {
	r.Samples = append(r.Samples, s)
	r.bound()
}

// bound brings r within the bounds of the file.
func (r *Record) bound() {
	if len(r.Summary) > maxSummary {
		r.Summary = strings.ToValidUTF8(r.Summary[:maxSummary], "")
	}
	if n := len(r.Samples); n > MaxSamples {
		r.Samples = append([]Sample(nil), r.Samples[n-MaxSamples:]...)
	}
	kept := r.Samples[:0]
	for _, s := range r.Samples {
		if s.Rounds < 1 || s.RTT < 0 || s.Open < 0 || s.RTT > maxDuration || s.Open > maxDuration {
			continue // not a measurement: drop it
		}
		kept = append(kept, s)
	}
	r.Samples = kept
	r.Pending = min(max(r.Pending, 0), MaxPending)
	if r.Pending == 0 {
		r.Settle = time.Time{}
	}
}

// bound drops the oldest records beyond MaxRecords.
func bound(m map[string]Record) {
	for len(m) > MaxRecords {
		oldest := ""
		for k, v := range m {
			if oldest == "" || v.At.Before(m[oldest].At) || v.At.Equal(m[oldest].At) && k < oldest {
				oldest = k
			}
		}
		delete(m, oldest)
	}
}
