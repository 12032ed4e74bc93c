package spa

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/a-knock/knock/internal/sender"
)

// Proto is the transport an SPA packet travels over.
type Proto string

// The transports fwknopd reads.
const (
	UDP Proto = "udp" // one datagram (default)
	TCP Proto = "tcp" // one TCP connection carrying the packet; the server needs ENABLE_TCP_SERVER
)

// ParseProto parses "udp" or "tcp" (SPA_SERVER_PROTO); empty means UDP.
func ParseProto(s string) (Proto, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "udp":
		return UDP, nil
	case "tcp":
		return TCP, nil
	}
	return "", fmt.Errorf("%w %q (want udp or tcp)", ErrBadProto, s)
}

// sendTimeout bounds a TCP send.
const sendTimeout = 5 * time.Second

// Send puts wire on the network to dst: one UDP datagram holding exactly
// the wire string, or a TCP connection that writes it and closes.
func Send(ctx context.Context, dst netip.AddrPort, proto Proto, wire string) error {
	if proto != TCP {
		// Fire and forget, through the sender's datagram path, which also
		// works where Go's net package cannot open UDP sockets (wine).
		err := ctx.Err()
		if err == nil {
			err = sender.SendDatagram(dst, []byte(wire))
		}
		if err != nil {
			return fmt.Errorf("send SPA packet to %s/udp: %w", dst, err)
		}
		return nil
	}
	network := "tcp"
	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, network, dst.String())
	if err != nil {
		return fmt.Errorf("send SPA packet to %s/%s: %w", dst, network, err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetWriteDeadline(dl)
	}
	if _, err := c.Write([]byte(wire)); err != nil {
		return fmt.Errorf("send SPA packet to %s/%s: %w", dst, network, err)
	}
	return nil
}
