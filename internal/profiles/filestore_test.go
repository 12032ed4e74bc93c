package profiles

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/a-knock/knock/internal/exit"
)

// TestMain doubles as the worker of TestProfileFileStoreConcurrentWriters: with
// KNOCK_PROFILES_WORKER set, the test binary is one writer process.
func TestMain(m *testing.M) {
	if dir := os.Getenv("KNOCK_PROFILES_WORKER"); dir != "" {
		os.Exit(worker(dir, os.Getenv("KNOCK_PROFILES_WORKER_ID")))
	}
	os.Exit(m.Run())
}

const workerRounds = 20

func worker(dir, id string) int {
	s, err := New(Options{Dir: dir, NoKeyring: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := s.Add(&Profile{Name: "w" + id, Open: "1,2,3"}, StoreFile); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for i := 0; i < workerRounds; i++ {
		err := s.Update("counter", func(p *Profile) error { p.OTP.Counter++; return nil })
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return 0
}

func TestProfileFileStoreConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Options{Dir: dir, NoKeyring: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Add(&Profile{Name: "counter", Kind: KindOTP, OTP: &OTPConfig{Secret: []byte("s")}}, StoreFile); err != nil {
		t.Fatal(err)
	}
	const writers = 10
	var cmds []*exec.Cmd
	for i := 0; i < writers; i++ {
		c := exec.Command(os.Args[0], "-test.run=^$")
		c.Env = append(os.Environ(), "KNOCK_PROFILES_WORKER="+dir, "KNOCK_PROFILES_WORKER_ID="+strconv.Itoa(i))
		c.Stderr = os.Stderr
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c)
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	p, _, err := s.Get("counter")
	if err != nil {
		t.Fatal(err)
	}
	if p.OTP.Counter != writers*workerRounds {
		t.Errorf("counter %d, want %d: updates were lost", p.OTP.Counter, writers*workerRounds)
	}
	es, err := s.List()
	if err != nil || len(es) != writers+1 {
		t.Errorf("%d profiles (%v), want %d", len(es), err, writers+1)
	}
	if names := s.Names(); len(names) != writers+1 {
		t.Errorf("names file: %v", names)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".profiles.json.tmp-*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestProfileFileStoreMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("mode bits do not protect files on Windows (CI runs on Linux)")
	}
	dir := t.TempDir()
	s, _ := New(Options{Dir: dir, NoKeyring: true})
	if err := s.Add(&Profile{Name: "a", Open: "7000,8000"}, StoreFile); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(s.FilePath())
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o, want 0600", st.Mode().Perm())
	}
	if err := os.Chmod(s.FilePath(), 0o644); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(s.FilePath())
	_, _, err = s.Get("a")
	if !errors.Is(err, ErrPermissions) || !strings.Contains(err.Error(), "chmod 600 "+s.FilePath()) {
		t.Errorf("get with 0644: %v", err)
	}
	if err := s.Add(&Profile{Name: "b", Open: "1"}, StoreFile); !errors.Is(err, ErrPermissions) {
		t.Errorf("add with 0644: %v", err)
	}
	if _, err := s.List(); !errors.Is(err, ErrPermissions) {
		t.Errorf("list with 0644: %v", err)
	}
	after, _ := os.ReadFile(s.FilePath())
	if string(before) != string(after) {
		t.Error("file changed although refused")
	}
	_ = os.Chmod(s.FilePath(), 0o600)
	if _, _, err := s.Get("a"); err != nil {
		t.Errorf("after chmod 600: %v", err)
	}
}

func TestProfileFileStoreCorruptAndUnreadable(t *testing.T) {
	dir := t.TempDir()
	s, _ := New(Options{Dir: dir, NoKeyring: true})
	if err := s.Add(&Profile{Name: "a", Open: "1"}, StoreFile); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(s.FilePath())
	if err := os.WriteFile(s.FilePath(), good[:len(good)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get("a"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("truncated: %v", err)
	}
	if err := s.Add(&Profile{Name: "b", Open: "1"}, StoreFile); !errors.Is(err, ErrCorrupt) {
		t.Errorf("add on a corrupt file: %v", err)
	}
	if b, _ := os.ReadFile(s.FilePath()); string(b) != string(good[:len(good)/2]) {
		t.Error("corrupt file was overwritten")
	}
	// A directory where the file should be: one clear error.
	os.Remove(s.FilePath())
	os.Mkdir(s.FilePath(), 0o700)
	if _, _, err := s.Get("a"); err == nil || strings.Contains(err.Error(), "\n") {
		t.Errorf("unreadable: %v", err)
	}
}

func TestProfileUpdateErrorWritesNothing(t *testing.T) {
	s, _ := New(Options{Dir: t.TempDir(), NoKeyring: true})
	_ = s.Add(&Profile{Name: "a", Open: "1"}, StoreFile)
	boom := errors.New("boom")
	if err := s.Update("a", func(p *Profile) error { p.Open = "2"; return boom }); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if err := s.Update("a", func(p *Profile) error { p.Open = "99999"; return nil }); !errors.Is(err, ErrInvalid) {
		t.Fatalf("invalid update: %v", err)
	}
	if err := s.Update("a", func(p *Profile) error { p.Name = "b"; return nil }); !errors.Is(err, ErrInvalid) {
		t.Fatalf("rename: %v", err)
	}
	p, _, _ := s.Get("a")
	if p.Open != "1:tcp" {
		t.Errorf("open %q", p.Open)
	}
}

// A writer killed between creating its temporary copy of the store and
// renaming it leaves the copy behind; the next writer, under the lock,
// removes it, since it holds every secret of the store.
func TestStaleTempFilesRemoved(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Options{Dir: dir, NoKeyring: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Add(&Profile{Name: "a", Open: "1"}, StoreFile); err != nil {
		t.Fatal(err)
	}
	stale := []string{filepath.Join(dir, ".profiles.json.tmp-123"), filepath.Join(dir, ".names.tmp-9")}
	for _, f := range stale {
		if err := os.WriteFile(f, []byte("secrets"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	other := filepath.Join(dir, "keep.tmp-1")
	os.WriteFile(other, nil, 0o600)
	if err := s.Add(&Profile{Name: "b", Open: "2"}, StoreFile); err != nil {
		t.Fatal(err)
	}
	for _, f := range stale {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s left behind: %v", f, err)
		}
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("an unrelated file went: %v", err)
	}
}

// A store that is not a regular file is refused before it is opened (a
// FIFO would block forever), as bad input.
func TestStoreNotRegular(t *testing.T) {
	dir := t.TempDir()
	s, _ := New(Options{Dir: dir, NoKeyring: true})
	if err := os.Mkdir(filepath.Join(dir, "profiles.json"), 0o700); err != nil {
		t.Fatal(err)
	}
	_, _, err := s.Get("a")
	if !errors.Is(err, ErrCorrupt) || exit.Code(err) != exit.UsageCode || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("a directory as the store: %v", err)
	}
}

// TestAddAllOneWrite: an import of 3,000 profiles (a big .fwknoprc) is
// one write of the file store, not one per profile; a batch with a name
// that exists writes nothing.
func TestAddAllOneWrite(t *testing.T) {
	s, err := New(Options{Dir: t.TempDir(), NoKeyring: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Add(&Profile{Name: "old", Open: "1,2,3"}, StoreFile); err != nil {
		t.Fatal(err)
	}
	fs := s.file
	before := fs.saves
	ps := make([]*Profile, 3000)
	for i := range ps {
		ps[i] = &Profile{Name: fmt.Sprintf("p%04d", i), Host: "198.51.100.2", Open: "7000,8000,9000"}
	}
	if err := s.AddAll(ps, StoreFile, false); err != nil {
		t.Fatal(err)
	}
	if n := fs.saves - before; n != 1 {
		t.Fatalf("AddAll of 3,000 profiles wrote the store %d times, want 1", n)
	}
	es, err := s.List()
	if err != nil || len(es) != 3001 {
		t.Fatalf("List: %d entries, %v; want 3001", len(es), err)
	}
	before = fs.saves
	again := []*Profile{{Name: "new", Open: "1,2"}, {Name: "p0042", Open: "1,2"}}
	if err := s.AddAll(again, StoreFile, false); !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "p0042") {
		t.Fatalf("AddAll with an existing name: %v, want ErrExists naming p0042", err)
	}
	if fs.saves != before {
		t.Fatal("a refused batch wrote the store")
	}
	if _, _, err := s.Get("new"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a refused batch stored part of itself: Get(new) = %v", err)
	}
}
