package sender

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"
)

// ErrNotOpened is returned when the guarded port did not accept a
// connection in time.
var ErrNotOpened = errors.New("port did not open")

// Probe timing. A probe is a TCP connect to the guarded port. Probes
// overlap, so a probe whose SYN the closed door drops does not delay the
// next one: the port is seen open within one probe interval of the
// firewall change. The interval is short for a while after every round,
// when the door is most likely to open, then backs off so that a slow
// door is not flooded with SYNs.
const (
	probeFirst   = 10 * time.Millisecond  // interval right after a round
	probeFast    = 200 * time.Millisecond // how long it stays that short
	probeMax     = 100 * time.Millisecond // interval it backs off to
	probeTimeout = 1500 * time.Millisecond
	maxInFlight  = 64
)

// IsOpen tries one TCP connection to addr:port within timeout.
func IsOpen(ctx context.Context, addr netip.Addr, port uint16, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(addr, port).String())
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Prober probes one port until its context ends. Probes overlap, so a
// probe whose SYN the closed door drops does not delay the next one.
type Prober struct {
	opened chan struct{}
	kick   chan struct{}

	// Set once, before opened is closed: when the first successful
	// probe started and how long its connection took.
	sent time.Time
	took time.Duration
}

// StartProber starts probing addr:port at once, until ctx ends or the
// port accepts a connection.
func StartProber(ctx context.Context, addr netip.Addr, port uint16) *Prober {
	p := &Prober{opened: make(chan struct{}), kick: make(chan struct{}, 1)}
	go p.run(ctx, addr, port)
	return p
}

// Opened is closed at the first successful connection.
func (p *Prober) Opened() <-chan struct{} { return p.opened }

// IsOpened reports whether a probe has succeeded.
func (p *Prober) IsOpened() bool {
	select {
	case <-p.opened:
		return true
	default:
		return false
	}
}

// Winner reports, once [Prober.Opened] is closed, when the first
// successful probe started and how long its connect took: the round-trip
// time of its SYN and SYN-ACK, or, when its first SYN was dropped and the
// kernel sent it again (after about a second), that much more.
func (p *Prober) Winner() (sent time.Time, took time.Duration, ok bool) {
	if !p.IsOpened() {
		return time.Time{}, 0, false
	}
	return p.sent, p.took, true
}

// Restart makes the next probe go out now and the following ones at the
// short interval again: a round was just sent.
func (p *Prober) Restart() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

func (p *Prober) run(ctx context.Context, addr netip.Addr, port uint16) {
	var once sync.Once
	slots := make(chan struct{}, maxInFlight)
	interval := probeFirst
	fastUntil := time.Now().Add(probeFast)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.opened:
			return
		case <-p.kick:
			interval = probeFirst
			fastUntil = time.Now().Add(probeFast)
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
			timer.Reset(0)
		case <-timer.C:
			select {
			case slots <- struct{}{}:
				go func() {
					defer func() { <-slots }()
					sent := time.Now()
					if IsOpen(ctx, addr, port, probeTimeout) {
						took := time.Since(sent)
						once.Do(func() {
							p.sent, p.took = sent, took
							close(p.opened)
						})
					}
				}()
			default: // too many probes hang on a dropping firewall: skip one
			}
			timer.Reset(interval)
			if time.Now().After(fastUntil) {
				if interval = interval * 5 / 4; interval > probeMax {
					interval = probeMax
				}
			}
		}
	}
}
