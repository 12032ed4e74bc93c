package sshrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/a-knock/knock/internal/door"
	"github.com/a-knock/knock/internal/exit"
	"github.com/a-knock/knock/internal/relay"
)

// DialTimeout bounds the connection to the opened port.
const DialTimeout = 15 * time.Second

// Proxy is knock proxy, ssh's ProxyCommand: it opens d, connects to port
// on the address knocked, relays in and out to the connection until
// either side ends, and closes d. ssh ends its ProxyCommand with SIGHUP;
// the guard turns that (and SIGINT, SIGTERM) into the end of the relay,
// and a write to the closed out into an error instead of death, so the
// close action always runs.
func Proxy(d *door.Door, port uint16, in io.Reader, out io.Writer) error {
	return Through(d, func(g *Guard) error {
		ctx := g.Context()
		dst := netip.AddrPortFrom(d.T.Addr, port)
		conn, err := Dial(ctx, dst)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("%w while connecting to %s", exit.ErrInterrupted, d.T.Name)
			}
			return fmt.Errorf("connect to %s (%s): %w", d.T.Name, dst, err)
		}
		if _, err := relay.Relay(ctx, in, out, conn); err != nil && ctx.Err() == nil {
			return fmt.Errorf("relay %s: %w", d.T.Name, err)
		}
		return nil
	})
}

// Dial connects to dst within [DialTimeout].
func Dial(ctx context.Context, dst netip.AddrPort) (*net.TCPConn, error) {
	dctx, cancel := context.WithTimeout(ctx, DialTimeout)
	defer cancel()
	var dialer net.Dialer
	nc, err := dialer.DialContext(dctx, "tcp", dst.String())
	if err != nil {
		return nil, err
	}
	conn, ok := nc.(*net.TCPConn)
	if !ok {
		nc.Close()
		return nil, errors.New("not a TCP connection")
	}
	return conn, nil
}
