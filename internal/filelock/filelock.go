// Package filelock is an exclusive, cross-process advisory lock held on an
// open file: flock on unix, LockFileEx on Windows. Profile writes and
// one-time counters use it so that concurrent knock processes lose nothing.
package filelock

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// ErrTimeout is returned when another process holds the lock for longer
// than the caller wants to wait.
var ErrTimeout = errors.New("lock held by another process")

// Lock is a held lock.
type Lock struct{ f *os.File }

// Acquire opens (creating, mode 0600) path and locks it exclusively,
// polling for up to timeout.
func Acquire(path string, timeout time.Duration) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	deadline := time.Now().Add(timeout)
	wait := time.Millisecond
	for {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if ok {
			return &Lock{f}, nil
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("%w (%s held for more than %s)", ErrTimeout, path, timeout)
		}
		time.Sleep(wait)
		if wait < 50*time.Millisecond {
			wait *= 2
		}
	}
}

// Release unlocks and closes the lock file. The file stays: removing it
// would race with a process that opened it and is about to lock it.
func (l *Lock) Release() {
	_ = unlock(l.f)
	_ = l.f.Close()
}
