// Package history remembers the last knock result per host name, so that
// the picker can show it. It stores no secrets: a name, whether the knock
// was verified, a short summary and the time, in a JSON file in the user's
// state directory, replaced atomically.
package history

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/a-knock/knock/internal/safeio"
)

// Record is the last knock of one name.
type Record struct {
	OK      bool      `json:"ok"`
	Summary string    `json:"summary"`
	At      time.Time `json:"at"`
}

// maxRecords bounds the file: the oldest records go first.
const maxRecords = 2000

// Path returns the history file: $XDG_STATE_HOME/knock/history.json, else
// the user cache directory.
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

// Load reads every record. A missing file is an empty history.
func Load() (map[string]Record, error) {
	p, err := Path()
	if err != nil {
		return nil, err
	}
	b, err := safeio.ReadFile(p, safeio.StoreLimit)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]Record{}, nil
	}
	if err != nil {
		return nil, err
	}
	m := map[string]Record{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return m, nil
}

// Save records the result of a knock of name.
func Save(name string, r Record) error {
	p, err := Path()
	if err != nil {
		return err
	}
	m, err := Load()
	if err != nil {
		m = map[string]Record{} // a corrupt history is replaced, never fatal
	}
	m[name] = r
	for len(m) > maxRecords {
		oldest := ""
		for k, v := range m {
			if oldest == "" || v.At.Before(m[oldest].At) {
				oldest = k
			}
		}
		delete(m, oldest)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".history-*")
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
	return os.Rename(tmp.Name(), p)
}
