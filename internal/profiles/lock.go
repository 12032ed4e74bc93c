package profiles

import (
	"errors"
	"fmt"
	"time"

	"github.com/a-knock/knock/internal/filelock"
)

// ErrLocked is returned when another knock process holds the profiles
// lock for longer than the lock timeout.
var ErrLocked = errors.New("profiles are locked by another knock process")

// lockTimeout bounds how long a writer waits for another.
const lockTimeout = 15 * time.Second

// fileLock is the profiles lock, held across processes.
type fileLock struct{ l *filelock.Lock }

// acquireLock locks path exclusively, waiting up to timeout.
func acquireLock(path string, timeout time.Duration) (*fileLock, error) {
	l, err := filelock.Acquire(path, timeout)
	if errors.Is(err, filelock.ErrTimeout) {
		return nil, fmt.Errorf("%w (%s held for more than %s)", ErrLocked, path, timeout)
	}
	if err != nil {
		return nil, err
	}
	return &fileLock{l}, nil
}

func (l *fileLock) release() { l.l.Release() }
