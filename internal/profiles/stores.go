package profiles

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/a-knock/knock/internal/safeio"
)

// StoreName names a profile store.
type StoreName string

// The stores.
const (
	StoreKeyring StoreName = "keyring"
	StoreFile    StoreName = "file"
)

// ParseStore parses "keyring" or "file".
func ParseStore(s string) (StoreName, error) {
	switch StoreName(s) {
	case StoreKeyring, StoreFile:
		return StoreName(s), nil
	}
	return "", fmt.Errorf("invalid store %q (want keyring or file)", s)
}

// Entry is what a listing shows of a profile: never its secrets.
type Entry struct {
	Name  string
	Host  string
	Kind  Kind
	Store StoreName
}

type store interface {
	name() StoreName
	list() ([]Entry, error)
	get(name string) (*Profile, error)
	put(p *Profile, create bool) error
	delete(name string) error
}

// Options say where a [Stores] keeps profiles.
type Options struct {
	// Dir is knock's config directory; default os.UserConfigDir()/knock.
	Dir string
	// Keyring is the keyring backend; nil means [OSKeyring].
	Keyring Backend
	// NoKeyring disables the keyring store.
	NoKeyring bool
}

// Stores is every profile store together: lookups consult each available
// store, and writes go to one. Each mutation holds an exclusive lock (a
// file in the config directory) across processes, for the keyring too.
type Stores struct {
	dir     string
	file    *fileStore
	kr      *keyringStore
	probe   func() error
	once    sync.Once
	probeEr error
}

// File names inside the config directory.
const (
	profilesFile = "profiles.json"
	lockFileName = "profiles.lock"
	namesFile    = "names" // profile names only, for shell completion
)

// New returns the stores described by opt. It touches nothing yet.
func New(opt Options) (*Stores, error) {
	dir := opt.Dir
	if dir == "" {
		cfg, err := os.UserConfigDir()
		if err != nil {
			return nil, fmt.Errorf("no config directory: %w", err)
		}
		dir = filepath.Join(cfg, "knock")
	}
	s := &Stores{dir: dir, file: &fileStore{path: filepath.Join(dir, profilesFile)}, probe: probeKeyring}
	switch {
	case opt.NoKeyring:
		s.probe = func() error { return fmt.Errorf("%w: disabled", ErrNoKeyring) }
	case opt.Keyring != nil:
		s.kr = &keyringStore{b: opt.Keyring}
		s.probe = func() error { return nil }
	default:
		s.kr = &keyringStore{b: OSKeyring{}}
	}
	return s, nil
}

var (
	defaultOnce   sync.Once
	defaultStores *Stores
	defaultErr    error
)

// Default returns the stores of this user, created on first use.
func Default() (*Stores, error) {
	defaultOnce.Do(func() { defaultStores, defaultErr = New(Options{}) })
	return defaultStores, defaultErr
}

// FilePath is the file store's path.
func (s *Stores) FilePath() string { return s.file.path }

// KeyringAvailable returns nil when the keyring store can be used, else
// an error wrapping [ErrNoKeyring]. It asks no secret, so it never
// prompts; the answer is cached.
func (s *Stores) KeyringAvailable() error {
	s.once.Do(func() {
		if s.kr == nil {
			s.probeEr = fmt.Errorf("%w: disabled", ErrNoKeyring)
			return
		}
		s.probeEr = s.probe()
	})
	return s.probeEr
}

// available lists the stores to consult, file first: it never prompts.
func (s *Stores) available() []store {
	st := []store{s.file}
	if s.KeyringAvailable() == nil {
		st = append(st, s.kr)
	}
	return st
}

func (s *Stores) byName(n StoreName) (store, error) {
	switch n {
	case StoreFile:
		return s.file, nil
	case StoreKeyring:
		if err := s.KeyringAvailable(); err != nil {
			return nil, err
		}
		return s.kr, nil
	}
	return nil, fmt.Errorf("invalid store %q", n)
}

// Choose picks the store for a new profile: want when given; else the
// keyring, or the file store when there is no keyring, with a notice
// saying so.
func (s *Stores) Choose(want StoreName) (StoreName, string, error) {
	if want != "" {
		_, err := s.byName(want)
		return want, "", err
	}
	if err := s.KeyringAvailable(); err != nil {
		return StoreFile, fmt.Sprintf("%v; using the file store %s", err, s.file.path), nil
	}
	// A Secret Service may answer on the bus and still have no usable
	// collection: ask it for the index (this may show an unlock prompt,
	// which a write needs anyway).
	if _, err := s.kr.loadRoot(); errors.Is(err, ErrNoKeyring) {
		return StoreFile, fmt.Sprintf("%v; using the file store %s", err, s.file.path), nil
	}
	return StoreKeyring, "", nil
}

// lock takes the store lock. Every write of the profiles and names files
// happens under it, so a temporary file of theirs found now was left by a
// writer that died (kill -9, a crash) and goes: it is a full copy of the
// store, secrets included.
func (s *Stores) lock() (*fileLock, error) {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("create config directory: %w", err)
	}
	l, err := acquireLock(filepath.Join(s.dir, lockFileName), lockTimeout)
	if err != nil {
		return nil, err
	}
	for _, name := range []string{profilesFile, namesFile} {
		stale, _ := filepath.Glob(filepath.Join(s.dir, tempPattern(name)))
		for _, f := range stale {
			_ = os.Remove(f)
		}
	}
	return l, nil
}

// Get returns the profile called name and the store holding it, or an
// error wrapping [ErrNotFound].
func (s *Stores) Get(name string) (*Profile, StoreName, error) {
	p, st, err := s.get(name)
	if errors.Is(err, ErrNotFound) {
		return nil, "", s.notFound(name)
	}
	if err != nil {
		return nil, "", err
	}
	return p, st.name(), nil
}

func (s *Stores) notFound(name string) error {
	if err := s.KeyringAvailable(); err != nil && s.kr != nil {
		return fmt.Errorf("%w: %q (not in the file store; keyring not consulted: %v)", ErrNotFound, name, err)
	}
	return fmt.Errorf("%w: %q", ErrNotFound, name)
}

func (s *Stores) get(name string) (*Profile, store, error) {
	for _, st := range s.available() {
		p, err := st.get(name)
		if err == nil {
			return p, st, nil
		}
		if st.name() == StoreKeyring && errors.Is(err, ErrNoKeyring) {
			continue // no usable keyring after all: nothing stored there
		}
		if !errors.Is(err, ErrNotFound) {
			return nil, nil, err
		}
	}
	return nil, nil, ErrNotFound
}

// List returns the entries of every available store, sorted by name. A
// keyring that cannot be read is an error: see [Stores.ListReadable].
func (s *Stores) List() ([]Entry, error) {
	es, krErr, err := s.ListReadable()
	if err == nil {
		err = krErr
	}
	if err != nil {
		return nil, err
	}
	return es, nil
}

// ListReadable is List for display: when the keyring cannot be read (a
// locked Secret Service, a broken item), it returns the other stores'
// entries and, as well, the keyring's error. Writers must use List.
func (s *Stores) ListReadable() (entries []Entry, keyringErr, err error) {
	var all []Entry
	var krErr error
	for _, st := range s.available() {
		es, err := st.list()
		if st.name() == StoreKeyring && err != nil {
			if !errors.Is(err, ErrNoKeyring) {
				krErr = err
			}
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		all = append(all, es...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	return all, krErr, nil
}

// Add stores a new profile in store to, failing with [ErrExists] when a
// profile of that name exists in any store.
func (s *Stores) Add(p *Profile, to StoreName) error {
	return s.put(p, to, false)
}

// Put is Add that replaces a profile of that name in the same store.
func (s *Stores) Put(p *Profile, to StoreName) error {
	return s.put(p, to, true)
}

func (s *Stores) put(p *Profile, to StoreName, replace bool) error {
	if err := p.Normalize(); err != nil {
		return err
	}
	dst, err := s.byName(to)
	if err != nil {
		return err
	}
	l, err := s.lock()
	if err != nil {
		return err
	}
	defer l.release()
	_, cur, err := s.get(p.Name)
	switch {
	case err == nil && (!replace || cur.name() != to):
		return fmt.Errorf("%w: %q (in the %s store)", ErrExists, p.Name, cur.name())
	case err != nil && !errors.Is(err, ErrNotFound):
		return err
	}
	if err := dst.put(p, !replace); err != nil {
		return err
	}
	s.writeNames()
	return nil
}

// Update reads the profile called name, lets fn change it and writes it
// back to its store, all under the cross-process lock, so concurrent
// updates (an OTP counter) are never lost. When fn returns an error,
// nothing is written. fn must not rename the profile.
func (s *Stores) Update(name string, fn func(*Profile) error) error {
	l, err := s.lock()
	if err != nil {
		return err
	}
	defer l.release()
	p, st, err := s.get(name)
	if errors.Is(err, ErrNotFound) {
		return s.notFound(name)
	}
	if err != nil {
		return err
	}
	if err := fn(p); err != nil {
		return err
	}
	if p.Name != name {
		return fmt.Errorf("%w: update may not rename %q", ErrInvalid, name)
	}
	if err := p.Normalize(); err != nil {
		return err
	}
	if err := st.put(p, false); err != nil {
		return err
	}
	s.writeNames()
	return nil
}

// Move moves a profile to another store: written there first, then
// removed from where it was.
func (s *Stores) Move(name string, to StoreName) error {
	dst, err := s.byName(to)
	if err != nil {
		return err
	}
	l, err := s.lock()
	if err != nil {
		return err
	}
	defer l.release()
	p, src, err := s.get(name)
	if errors.Is(err, ErrNotFound) {
		return s.notFound(name)
	}
	if err != nil {
		return err
	}
	if src.name() == to {
		return nil
	}
	if err := dst.put(p, true); err != nil {
		return err
	}
	if err := src.delete(name); err != nil {
		return fmt.Errorf("copied %q to the %s store but could not remove it from the %s store: %w", name, to, src.name(), err)
	}
	s.writeNames()
	return nil
}

// Delete removes the profile called name and returns the store it was in.
func (s *Stores) Delete(name string) (StoreName, error) {
	l, err := s.lock()
	if err != nil {
		return "", err
	}
	defer l.release()
	_, st, err := s.get(name)
	if errors.Is(err, ErrNotFound) {
		return "", s.notFound(name)
	}
	if err != nil {
		return "", err
	}
	if err := st.delete(name); err != nil {
		return "", err
	}
	s.writeNames()
	return st.name(), nil
}

// Names returns profile names for shell completion from a names-only
// file that every write refreshes: it reads no secret and never touches
// the keyring, so it cannot prompt. Errors give no names.
func (s *Stores) Names() []string {
	b, err := safeio.ReadFile(filepath.Join(s.dir, namesFile), maxFile)
	if err != nil {
		return nil
	}
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		if _, n, ok := strings.Cut(line, "\t"); ok && ValidName(n) == nil {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// writeNames refreshes the names file from the stores' indexes (called
// with the lock held). Best effort: it only feeds completion.
func (s *Stores) writeNames() {
	es, err := s.List()
	if err != nil {
		return
	}
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintf(&b, "%s\t%s\n", e.Store, e.Name)
	}
	_ = writeFile(filepath.Join(s.dir, namesFile), []byte(b.String()), false)
}

// AddAll stores every profile of ps in store to, all or nothing as far as
// the check goes: when a name exists already (in any store, or in
// another store than to with replace), nothing is written and the error
// wraps [ErrExists] naming them all. The file store takes the whole batch
// in one write.
func (s *Stores) AddAll(ps []*Profile, to StoreName, replace bool) error {
	for _, p := range ps {
		if err := p.Normalize(); err != nil {
			return err
		}
	}
	dst, err := s.byName(to)
	if err != nil {
		return err
	}
	l, err := s.lock()
	if err != nil {
		return err
	}
	defer l.release()
	es, err := s.List()
	if err != nil {
		return err
	}
	existing := map[string]StoreName{}
	for _, e := range es {
		existing[e.Name] = e.Store
	}
	var dups []string
	for _, p := range ps {
		if st, ok := existing[p.Name]; ok && (!replace || st != to) {
			dups = append(dups, p.Name)
		}
	}
	if len(dups) > 0 {
		hint := "; give --replace to overwrite them"
		if replace {
			hint = fmt.Sprintf(" in another store than %s; remove or move them first", to)
		}
		return fmt.Errorf("%w: nothing imported: %s%s", ErrExists, strings.Join(dups, ", "), hint)
	}
	defer s.writeNames()
	if fs, ok := dst.(*fileStore); ok {
		return fs.putAll(ps)
	}
	for i, p := range ps {
		if err := dst.put(p, !replace); err != nil {
			return fmt.Errorf("stored %d of %d profiles, then %s: %w", i, len(ps), p.Name, err)
		}
	}
	return nil
}
