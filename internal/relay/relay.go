// Package relay copies a byte stream both ways between a local reader and
// writer (the stdin and stdout of a ProxyCommand) and a TCP connection,
// as socat or nc would, without per-byte work: on Linux both directions
// are spliced through kernel pipes, so the bytes never enter user space;
// elsewhere io.Copy uses whatever zero-copy path the OS offers.
//
// Half-close is honoured both ways: the end of the local input becomes a
// TCP FIN (CloseWrite) while the remote side may go on sending, and the
// end of the remote stream closes the local writer.
package relay

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Grace is how long the local input may still be relayed after the remote
// side has finished sending, before the relay gives up on it (socat's -t).
var Grace = 2 * time.Second

// Stats counts the bytes relayed in each direction.
type Stats struct {
	Up   int64 // from the local reader to the connection
	Down int64 // from the connection to the local writer
}

// Relay copies in to conn and conn to out until the remote side has
// finished sending and the local input has ended (or [Grace] has passed
// since the remote side finished), an error ends a direction, or ctx is
// done. When in ends, conn's write half is closed and the relay keeps
// reading. When the remote side ends, out is half-closed if it is a TCP
// connection (knock forward) and otherwise closed if it is an io.Closer
// (stdout of a ProxyCommand), so the local reader sees the end too.
// Relay closes conn, never in or out, before it returns. Between two
// TCP connections on Linux, both directions are spliced by the runtime.
//
// When in and out are *os.File pipes or sockets, Relay works on
// duplicates of their descriptors in non-blocking mode, so that reads can
// be interrupted and, on Linux, spliced; blocking mode is restored before
// Relay returns.
//
// The error is the first one that ended a direction, other than the
// normal end of a stream and the effects of ctx or of closing conn.
func Relay(ctx context.Context, in io.Reader, out io.Writer, conn *net.TCPConn) (Stats, error) {
	pin, releaseIn, inInterruptible := pollable(in)
	pout, releaseOut, _ := pollable(out)

	var (
		up, down atomic.Int64
		mu       sync.Mutex
		firstErr error
	)
	fail := func(err error) {
		if err == nil || isClosed(err) {
			return
		}
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}

	upDone := make(chan struct{})
	go func() {
		defer close(upDone)
		n, err := copyUp(conn, pin)
		up.Store(n)
		if err != nil {
			fail(err)
			// The local side broke: nothing more can be said upstream.
			_ = conn.Close()
			return
		}
		_ = conn.CloseWrite()
	}()

	downDone := make(chan struct{})
	go func() {
		defer close(downDone)
		n, err := io.Copy(pout, conn) // os.File.ReadFrom splices on Linux
		down.Store(n)
		fail(err)
		releaseOut()
		// The end of the remote stream: a TCP connection (knock forward)
		// gets a half-close, anything else (stdout) is closed.
		if cw, ok := out.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		} else if c, ok := out.(io.Closer); ok {
			_ = c.Close()
		}
	}()

	_, inConn := in.(net.Conn)
	stop := func() {
		_ = conn.Close()
		if d, ok := pin.(interface{ SetReadDeadline(time.Time) error }); ok && (inInterruptible || inConn) {
			_ = d.SetReadDeadline(time.Now())
		}
	}
	select {
	case <-ctx.Done():
		stop()
		<-downDone
	case <-downDone:
		select {
		case <-upDone:
		case <-ctx.Done():
		case <-time.After(Grace):
		}
		stop()
	}
	// A blocking read of a terminal cannot be interrupted; the caller is
	// about to end the process then, so do not wait for it for long.
	select {
	case <-upDone:
		releaseIn()
	case <-time.After(Grace):
	}
	mu.Lock()
	defer mu.Unlock()
	return Stats{Up: up.Load(), Down: down.Load()}, firstErr
}

func isClosed(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, os.ErrClosed)
}
