//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/a-knock/knock/internal/lab"
)

func run(c config) int {
	t := &harness{}
	code := 0
	func() {
		defer func() {
			if r := recover(); r != nil {
				if r != errFatal {
					panic(r)
				}
				code = 1
			}
		}()
		im := lab.Impairment{Delay: c.delay, Jitter: c.jitter, Loss: c.loss}
		cfg := lab.Symmetric(im)
		if c.knockLoss > 0 {
			cfg.ClientToServer.Loss, cfg.ClientToServer.Filter = c.knockLoss, lab.KnocksExcept(c.guard)
		}
		w := lab.NewWAN(t, cfg)
		fmt.Printf("WAN_C=%s WAN_S=%s WAN_CIF=%s WAN_SIF=%s WAN_M=%s\n", w.Client, w.Server, w.ClientIf, w.ServerIf, w.Mid)
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
		// A parent that dies without a word (SIGKILL) leaves this
		// process to init: then the lab goes too.
		parent := os.Getppid()
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
	wait:
		for {
			select {
			case <-sig:
				break wait
			case <-tick.C:
				if os.Getppid() != parent {
					break wait
				}
			}
		}
		for _, d := range []lab.Dir{lab.ClientToServer, lab.ServerToClient} {
			st := w.Stats(d)
			fmt.Fprintf(os.Stderr, "wan: %s: %+v\n", d, st)
		}
	}()
	t.cleanup()
	if t.failed {
		code = 1
	}
	return code
}

// errFatal unwinds a Fatal of the lab's helpers.
var errFatal = errors.New("fatal")

// harness is the testing.TB that the lab's helpers are written for, for
// a program: it logs to stderr, runs cleanups at the end, and a fatal
// error unwinds to run (through a panic it recovers), which then cleans
// up. The lab calls only the methods defined here; the embedded
// interface is nil.
type harness struct {
	testing.TB
	mu       sync.Mutex
	cleanups []func()
	failed   bool
}

func (h *harness) Helper() {}

func (h *harness) Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "wan: "+format+"\n", args...)
}

func (h *harness) Errorf(format string, args ...any) {
	h.Logf(format, args...)
	h.mu.Lock()
	h.failed = true
	h.mu.Unlock()
}

func (h *harness) Fatalf(format string, args ...any) {
	h.Errorf(format, args...)
	panic(errFatal)
}

func (h *harness) Fatal(args ...any) { h.Fatalf("%s", fmt.Sprint(args...)) }

func (h *harness) Skipf(format string, args ...any) { h.Fatalf(format, args...) }

func (h *harness) Cleanup(f func()) {
	h.mu.Lock()
	h.cleanups = append(h.cleanups, f)
	h.mu.Unlock()
}

func (h *harness) TempDir() string {
	dir, err := os.MkdirTemp("", "knock-bench-wan-")
	if err != nil {
		h.Fatalf("%v", err)
	}
	h.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// cleanup runs the cleanups, last first, as testing does.
func (h *harness) cleanup() {
	h.mu.Lock()
	cs := h.cleanups
	h.cleanups = nil
	h.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i]()
	}
}
