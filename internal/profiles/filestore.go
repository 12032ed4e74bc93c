package profiles

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"sort"

	"github.com/a-knock/knock/internal/exit"
	"github.com/a-knock/knock/internal/safeio"
)

// ErrPermissions is returned when the profiles file is readable by other
// users: knock refuses it, as ssh refuses a loose private key.
var ErrPermissions = exit.Usage(errors.New("permissions too open"))

// fileStore keeps every profile in one JSON file, mode 0600. Callers hold
// the profiles lock around read-modify-write sequences.
type fileStore struct {
	path  string
	saves int // writes of the file by this value, for tests
}

func (s *fileStore) name() StoreName { return StoreFile }

// load reads the file; a missing file is an empty store. Anything but a
// regular file (a FIFO would block the read, /dev/zero never end it) is
// refused before it is opened.
func (s *fileStore) load() ([]*Profile, error) {
	st, err := os.Stat(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read profiles file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("profiles file %s: %w: not a regular file", s.path, ErrCorrupt)
	}
	if err := checkPerm(s.path, st.Mode()); err != nil {
		return nil, err
	}
	b, err := safeio.ReadFile(s.path, maxFile)
	if err != nil {
		if errors.Is(err, safeio.ErrTooLarge) || errors.Is(err, safeio.ErrNotRegular) {
			return nil, fmt.Errorf("profiles file %s: %w: %v", s.path, ErrCorrupt, err)
		}
		return nil, fmt.Errorf("read profiles file %s: %w", s.path, err)
	}
	ps, err := DecodeList(b)
	if err != nil {
		return nil, fmt.Errorf("profiles file %s: %w", s.path, err)
	}
	return ps, nil
}

func checkPerm(path string, mode fs.FileMode) error {
	if runtime.GOOS == "windows" {
		return nil // ACLs, not mode bits, protect files there
	}
	if mode.Perm()&0o077 != 0 {
		return fmt.Errorf("profiles file %s: %w (%04o; it holds secrets): run chmod 600 %s", path, ErrPermissions, mode.Perm(), path)
	}
	return nil
}

func (s *fileStore) save(ps []*Profile) error {
	sort.Slice(ps, func(i, j int) bool { return ps[i].Name < ps[j].Name })
	b, err := EncodeList(ps)
	if err != nil {
		return err
	}
	s.saves++
	return writeFileAtomic(s.path, b)
}

func (s *fileStore) list() ([]Entry, error) {
	ps, err := s.load()
	if err != nil {
		return nil, err
	}
	es := make([]Entry, len(ps))
	for i, p := range ps {
		es[i] = Entry{Name: p.Name, Host: p.Host, Kind: p.EffectiveKind(), Store: StoreFile}
	}
	return es, nil
}

func (s *fileStore) get(name string) (*Profile, error) {
	ps, err := s.load()
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		if p.Name == name {
			return p, nil
		}
	}
	return nil, ErrNotFound
}

func (s *fileStore) put(p *Profile, create bool) error {
	ps, err := s.load()
	if err != nil {
		return err
	}
	for i, q := range ps {
		if q.Name == p.Name {
			if create {
				return ErrExists
			}
			ps[i] = p
			return s.save(ps)
		}
	}
	return s.save(append(ps, p))
}

func (s *fileStore) delete(name string) error {
	ps, err := s.load()
	if err != nil {
		return err
	}
	for i, q := range ps {
		if q.Name == name {
			return s.save(append(ps[:i], ps[i+1:]...))
		}
	}
	return ErrNotFound
}

// putAll adds or replaces every profile of ps in one write.
func (s *fileStore) putAll(ps []*Profile) error {
	cur, err := s.load()
	if err != nil {
		return err
	}
	at := make(map[string]int, len(cur))
	for i, p := range cur {
		at[p.Name] = i
	}
	for _, p := range ps {
		if i, ok := at[p.Name]; ok {
			cur[i] = p
			continue
		}
		at[p.Name] = len(cur)
		cur = append(cur, p)
	}
	return s.save(cur)
}
