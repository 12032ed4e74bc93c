package filelock

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestAcquireExcludes(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lock")
	l, err := Acquire(p, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// A second open file description is a second holder, as another
	// process would be.
	if _, err := Acquire(p, 50*time.Millisecond); !errors.Is(err, ErrTimeout) {
		t.Fatalf("second Acquire: %v, want ErrTimeout", err)
	}
	l.Release()
	l2, err := Acquire(p, time.Second)
	if err != nil {
		t.Fatalf("after Release: %v", err)
	}
	l2.Release()
}
