// Package sshrun is the ssh side of knock: it runs ssh (or any program)
// through an open door, and relays a ProxyCommand's stream, and
// guarantees that the door's close action runs on every way out: the child
// exits or fails, it cannot be started, or this process is told to stop
// (SIGINT, SIGTERM, SIGHUP when the terminal closes, SIGQUIT; on Windows
// Ctrl+C, Ctrl+Break and closing the console window).
//
// [Through] is the one path: a [Guard] is set up first, then the door
// opens, then the work runs, then the door closes. [SSH] (knock ssh and
// the picker's Enter), [Run] and [Proxy] are the work.
//
// A [Guard] catches those signals from the moment it is created, so that
// the cleanup also runs when one arrives before the child starts. While a
// child runs, each signal is forwarded to it and this process keeps running
// until the child has exited and the cleanup has finished.
package sshrun

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"time"
)

// KillAfter is how long a child may take to exit after a forwarded signal
// before it is killed, so that a child that ignores signals cannot keep the
// cleanup from running.
var KillAfter = 10 * time.Second

// ErrSignal is the cause of a [Guard]'s context when a signal ended it;
// the error wraps it with the signal's name.
var ErrSignal = errors.New("stopped by signal")

// Guard catches termination signals and runs a cleanup function once.
type Guard struct {
	ctx      context.Context
	cancel   context.CancelCauseFunc
	sigs     chan os.Signal
	stopped  chan struct{}
	cleanup  func()
	once     sync.Once
	stopOnce sync.Once
	stopOS   func()

	mu    sync.Mutex
	child *os.Process
	first os.Signal
}

// New starts catching termination signals and returns a Guard that runs
// cleanup exactly once: when [Guard.Close] is called, or from a Windows
// console handler that has to finish before the system ends the process.
// The caller must call Close on every path, normally with defer.
func New(cleanup func()) *Guard {
	ctx, cancel := context.WithCancelCause(context.Background())
	g := &Guard{
		ctx:     ctx,
		cancel:  cancel,
		sigs:    make(chan os.Signal, 8),
		stopped: make(chan struct{}),
		cleanup: cleanup,
	}
	signal.Notify(g.sigs, caught...)
	g.stopOS = installConsoleHandler(g.runCleanup)
	go g.loop()
	return g
}

// Context is cancelled, with a cause wrapping [ErrSignal], when the first
// signal arrives. Use it for the work before and after the child, such as
// knocking and waiting for the port.
func (g *Guard) Context() context.Context { return g.ctx }

// Signal returns the first signal that arrived, or nil.
func (g *Guard) Signal() os.Signal {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.first
}

func (g *Guard) loop() {
	for {
		select {
		case <-g.stopped:
			return
		case s := <-g.sigs:
			if ignoredOnly(s) {
				continue
			}
			g.mu.Lock()
			if g.first == nil {
				g.first = s
			}
			child := g.child
			g.mu.Unlock()
			g.cancel(fmt.Errorf("%w %s", ErrSignal, signalName(s)))
			if child != nil {
				forward(child, s)
			}
		}
	}
}

// Run starts c with the terminal passed through (stdin, stdout and stderr
// default to this process's), waits for it and returns its exit code:
// 128+N when signal N ended it, as a shell reports. Signals that reach
// this process meanwhile are forwarded to the child; a child still running
// [KillAfter] after the first one is killed. The error is non-nil only
// when the child could not be started or waited for. Run does not run the
// cleanup: Close does.
func (g *Guard) Run(c *exec.Cmd) (int, error) {
	if c.Stdin == nil {
		c.Stdin = os.Stdin
	}
	if c.Stdout == nil {
		c.Stdout = os.Stdout
	}
	if c.Stderr == nil {
		c.Stderr = os.Stderr
	}
	if err := g.ctx.Err(); err != nil {
		return 0, context.Cause(g.ctx)
	}
	if err := c.Start(); err != nil {
		return 0, err
	}
	g.mu.Lock()
	g.child = c.Process
	pending := g.first
	g.mu.Unlock()
	if pending != nil {
		// A signal raced with the start: the child must hear it too.
		forward(c.Process, pending)
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-g.ctx.Done():
		select {
		case err = <-done:
		case <-time.After(KillAfter):
			_ = c.Process.Kill()
			err = <-done
		}
	}
	g.mu.Lock()
	g.child = nil
	g.mu.Unlock()
	if c.ProcessState != nil {
		return exitCode(c.ProcessState), nil
	}
	return 0, err
}

// Close runs the cleanup, unless it ran already, and then stops catching
// signals. Signals that arrive while the cleanup runs are still caught, so
// they cannot cut it short.
func (g *Guard) Close() {
	g.runCleanup()
	g.stopOnce.Do(func() {
		signal.Stop(g.sigs)
		if g.stopOS != nil {
			g.stopOS()
		}
		close(g.stopped)
		g.cancel(context.Canceled)
	})
}

func (g *Guard) runCleanup() {
	g.once.Do(func() {
		if g.cleanup != nil {
			g.cleanup()
		}
	})
}
