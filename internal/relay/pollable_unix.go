//go:build unix

package relay

import (
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// pollable returns, for a pipe or socket *os.File, an *os.File for a
// duplicate of its descriptor in non-blocking mode, which the runtime
// poller manages: reads and writes park the goroutine instead of a
// thread, can be interrupted by deadlines, and splice can wait on them.
// Terminals and regular files are returned as they are, because other
// processes share their mode. release restores blocking mode (the mode
// belongs to the open file, which the duplicate shares) and closes the
// duplicate; ok reports whether v was replaced.
func pollable[T any](v T) (w T, release func(), ok bool) {
	w, release = v, func() {}
	f, isFile := any(v).(*os.File)
	if !isFile {
		return
	}
	sc, err := f.SyscallConn()
	if err != nil {
		return
	}
	var dup int = -1
	_ = sc.Control(func(fd uintptr) {
		var st unix.Stat_t
		if unix.Fstat(int(fd), &st) != nil {
			return
		}
		if m := st.Mode & unix.S_IFMT; m != unix.S_IFIFO && m != unix.S_IFSOCK {
			return
		}
		if d, err := unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0); err == nil {
			dup = d
		}
	})
	if dup < 0 {
		return
	}
	if err := unix.SetNonblock(dup, true); err != nil {
		unix.Close(dup)
		return
	}
	nf := os.NewFile(uintptr(dup), f.Name())
	nw, isT := any(nf).(T)
	if !isT {
		_ = unix.SetNonblock(dup, false)
		nf.Close()
		return
	}
	var once sync.Once
	return nw, func() {
		once.Do(func() {
			if c, err := nf.SyscallConn(); err == nil {
				_ = c.Control(func(fd uintptr) { _ = unix.SetNonblock(int(fd), false) })
			}
			nf.Close()
		})
	}, true
}

func isPipe(f *os.File) bool {
	var st unix.Stat_t
	sc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	_ = sc.Control(func(fd uintptr) { err = unix.Fstat(int(fd), &st) })
	return err == nil && st.Mode&unix.S_IFMT == unix.S_IFIFO
}

var _ io.Reader = (*os.File)(nil)
