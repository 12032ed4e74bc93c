package otp

import (
	"errors"
	"fmt"
	"time"

	"github.com/a-knock/knock/internal/filelock"
)

// ErrBusy is returned when another process holds a profile's play lock
// for longer than the caller wants to wait.
var ErrBusy = errors.New("another knock of this one-time profile is in progress")

// PlayLock serialises the knocks of one OTP profile across processes.
//
// Two processes that knock the same one-time door at the same time cannot
// both win: knockd keeps one attempt per source address, their packets
// interleave and break each other, and a counter read by both is played
// twice. Holding the lock from reading the counter to storing the next one
// makes the knocks take turns, each with its own line.
type PlayLock struct{ l *filelock.Lock }

// LockPlay takes the lock file at path (created 0600), waiting up to
// timeout for another holder.
func LockPlay(path string, timeout time.Duration) (*PlayLock, error) {
	l, err := filelock.Acquire(path, timeout)
	if errors.Is(err, filelock.ErrTimeout) {
		return nil, fmt.Errorf("%w (waited %s for %s)", ErrBusy, timeout, path)
	}
	if err != nil {
		return nil, err
	}
	return &PlayLock{l}, nil
}

// Release drops the lock.
func (l *PlayLock) Release() { l.l.Release() }
