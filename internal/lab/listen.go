//go:build linux

package lab

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// ListenTCP opens a TCP listener inside namespace ns on addr (for example
// "[::]:22") that accepts and closes every connection, and closes it at
// cleanup. A socket stays in the namespace it was created in, so only the
// creating thread has to switch namespaces.
func (l *Lab) ListenTCP(t testing.TB, ns, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	err := InNamespace(ns, func() error {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err
	})
	if err != nil {
		t.Fatalf("lab: listen %s in %s: %v", addr, ns, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for i := 0; i < 1_000_000; i++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln
}

// InNamespace runs fn on an OS thread that has joined network namespace
// ns, and moves the thread back before releasing it, so no other goroutine
// ever runs in the namespace. (A thread left in a namespace could be the
// main thread, which Go never ends, and then the whole test process would
// count as "in" the namespace.)
func InNamespace(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		f, err := os.Open(filepath.Join("/run/netns", ns))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// Stay locked: the goroutine exits and Go retires the thread.
			errc <- fmt.Errorf("return from namespace %s: %w", ns, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
