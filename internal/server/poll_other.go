//go:build !linux

package server

import (
	"errors"
	"io"

	"github.com/a-knock/knock/internal/seq"
)

// poller is Linux only; elsewhere each socket has its goroutine and the
// reorderer restores the arrival order as well as time stamps allow.
type poller struct{}

func newPoller(func(Packet)) *poller { return nil }

var errNoPoller = errors.New("no ordered poller on this platform")

func (p *poller) watch(seq.Knock, io.Closer) error { return errNoPoller }
func (p *poller) forget(io.Closer)                 {}
func (p *poller) close()                           {}
