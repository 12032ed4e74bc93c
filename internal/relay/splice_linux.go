package relay

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// maxSplice is the most one splice call moves, as in the standard library.
const maxSplice = 1 << 20

// copyUp copies in to conn. A pipe is spliced into the socket through an
// intermediate pipe: splice needs a pipe on one side of each call, and
// two calls tell "input empty" from "socket full", which a direct
// pipe-to-socket splice reports alike as EAGAIN. Other inputs use io.Copy.
func copyUp(conn *net.TCPConn, in io.Reader) (int64, error) {
	f, ok := in.(*os.File)
	if !ok || !isPipe(f) || !nonblocking(f) {
		return io.Copy(conn, in)
	}
	src, err := f.SyscallConn()
	if err != nil {
		return io.Copy(conn, in)
	}
	dst, err := conn.SyscallConn()
	if err != nil {
		return io.Copy(conn, in)
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return io.Copy(conn, in)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	_, _ = unix.FcntlInt(uintptr(p[1]), unix.F_SETPIPE_SZ, maxSplice)

	var written int64
	for {
		var n int
		var serr error
		rerr := src.Read(func(fd uintptr) bool {
			for {
				var m int64
				m, serr = unix.Splice(int(fd), nil, p[1], nil, maxSplice, unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
				n = int(m)
				if serr == unix.EINTR {
					continue
				}
				return serr != unix.EAGAIN
			}
		})
		if rerr != nil {
			return written, rerr
		}
		if serr != nil {
			return written, &os.SyscallError{Syscall: "splice", Err: serr}
		}
		if n == 0 {
			return written, nil // end of input
		}
		left := n
		werr := dst.Write(func(fd uintptr) bool {
			for left > 0 {
				m, e := unix.Splice(p[0], nil, int(fd), nil, left, unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
				if m > 0 {
					left -= int(m)
					written += m
					continue
				}
				switch {
				case e == unix.EINTR:
					continue
				case e == unix.EAGAIN:
					return false
				case e == nil:
					serr = io.ErrUnexpectedEOF
				default:
					serr = e
				}
				return true
			}
			return true
		})
		if werr != nil {
			return written, werr
		}
		if serr != nil {
			if errors.Is(serr, syscall.EPIPE) || errors.Is(serr, syscall.ECONNRESET) {
				return written, &net.OpError{Op: "write", Net: "tcp", Err: serr}
			}
			return written, &os.SyscallError{Syscall: "splice", Err: serr}
		}
	}
}

// nonblocking reports whether f is in non-blocking mode, which the splice
// loop needs to wait for input through the poller.
func nonblocking(f *os.File) bool {
	sc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	nb := false
	_ = sc.Control(func(fd uintptr) {
		fl, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
		nb = err == nil && fl&unix.O_NONBLOCK != 0
	})
	return nb
}
