package spa

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/a-knock/knock/internal/sender"
)

// Proto is the transport an SPA packet travels over (SPA_SERVER_PROTO,
// fwknop's -P).
type Proto string

// The transports of fwknop's client.
const (
	UDP    Proto = "udp"    // one datagram (default)
	TCP    Proto = "tcp"    // one TCP connection carrying the packet; the server needs ENABLE_TCP_SERVER
	HTTP   Proto = "http"   // an HTTP GET request over TCP; the server needs ENABLE_SPA_OVER_HTTP
	UDPRaw Proto = "udpraw" // a UDP datagram built by hand on a raw socket (root), which may spoof its source
	TCPRaw Proto = "tcpraw" // a TCP SYN carrying the packet, on a raw socket (root)
	ICMP   Proto = "icmp"   // an ICMP message carrying the packet, on a raw socket (root)
)

// ErrRaw is wrapped when a raw socket cannot be used: not root, or on
// Windows, which has no raw TCP and no raw IPv4 headers.
var ErrRaw = errors.New("raw sockets unavailable")

// Protos lists the transport names, for help and completion.
func Protos() []string {
	return []string{string(UDP), string(TCP), string(HTTP), string(UDPRaw), string(TCPRaw), string(ICMP)}
}

// ParseProto parses a transport name as fwknop's SPA_SERVER_PROTO, ignoring
// case; empty means UDP.
func ParseProto(s string) (Proto, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "" {
		return UDP, nil
	}
	for _, p := range Protos() {
		if p == t {
			return Proto(t), nil
		}
	}
	return "", fmt.Errorf("%w %q (want one of %s)", ErrBadProto, s, strings.Join(Protos(), ", "))
}

// Raw reports whether the transport needs a raw socket.
func (p Proto) Raw() bool { return p == UDPRaw || p == TCPRaw || p == ICMP }

// sendTimeout bounds a TCP or HTTP send.
const sendTimeout = 5 * time.Second

// DefaultUserAgent is the User-Agent of SPA over HTTP: fwknopd looks for
// "User-Agent: Fwknop" to tell an SPA request.
const DefaultUserAgent = "Fwknop/2.6.10"

// Transport says how to send an SPA packet. Only Proto and Dst are
// needed; the other fields are fwknop's transport options.
type Transport struct {
	Proto Proto
	// Dst is the server's IPv4 address and port (SPA_SERVER_PORT, or a
	// port from [RandomPort] for RAND_PORT).
	Dst netip.AddrPort
	// Src is a spoofed source address (SPOOF_SOURCE_IP), raw transports
	// only; the zero Addr lets the kernel choose.
	Src netip.Addr
	// SrcPort is the source port (SPA_SOURCE_PORT); 0 lets the kernel
	// choose, or for raw transports draws one as fwknop does.
	SrcPort uint16
	// Host is the HTTP Host header: the server as the user named it
	// (fwknop's -D); empty means Dst's address.
	Host string
	// UserAgent is the HTTP User-Agent (HTTP_USER_AGENT); empty means
	// [DefaultUserAgent]. fwknopd wants it to start with "Fwknop".
	UserAgent string
	// ICMPType and ICMPCode of the icmp transport; fwknop sends type 0
	// (echo reply), code 0 by default.
	ICMPType, ICMPCode uint8
}

// Send puts wire on the network to dst: one UDP datagram holding exactly
// the wire string, or a TCP connection that writes it and closes.
func Send(ctx context.Context, dst netip.AddrPort, proto Proto, wire string) error {
	return Transport{Proto: proto, Dst: dst}.Send(ctx, wire)
}

// Validate checks the transport without sending.
func (t Transport) Validate() error {
	if _, err := ParseProto(string(t.Proto)); err != nil {
		return err
	}
	if !t.Dst.Addr().Unmap().Is4() || t.Dst.Port() == 0 {
		return fmt.Errorf("%w: destination %s: fwknopd 2.6 reads IPv4 only, on a port 1..65535", ErrBadProto, t.Dst)
	}
	if t.Src.IsValid() {
		if !t.Proto.Raw() {
			return fmt.Errorf("%w: a spoofed source address needs udpraw, tcpraw or icmp (as in fwknop)", ErrBadProto)
		}
		if !t.Src.Unmap().Is4() {
			return fmt.Errorf("%w: spoofed source %s is not IPv4", ErrBadProto, t.Src)
		}
	}
	return nil
}

// Send puts wire on the network as t says.
func (t Transport) Send(ctx context.Context, wire string) error {
	if err := t.Validate(); err != nil {
		return err
	}
	proto := t.Proto
	if proto == "" {
		proto = UDP
	}
	payload := []byte(wire)
	switch proto {
	case HTTP:
		payload = []byte(t.httpRequest(wire))
		proto = TCP
	case UDPRaw, TCPRaw, ICMP:
		if err := sendRaw(t, payload); err != nil {
			return fmt.Errorf("send SPA packet to %s/%s: %w", t.Dst, t.Proto, err)
		}
		return nil
	}
	if proto == UDP && t.SrcPort == 0 {
		// Fire and forget, through the sender's datagram path, which also
		// works where Go's net package cannot open UDP sockets (wine).
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := sender.SendDatagram(netip.AddrPortFrom(t.Dst.Addr().Unmap(), t.Dst.Port()), payload); err != nil {
			return fmt.Errorf("send SPA packet to %s/udp: %w", t.Dst, err)
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	d := net.Dialer{}
	if t.SrcPort != 0 {
		if proto == TCP {
			d.LocalAddr = &net.TCPAddr{Port: int(t.SrcPort)}
		} else {
			d.LocalAddr = &net.UDPAddr{Port: int(t.SrcPort)}
		}
	}
	network := "udp4"
	if proto == TCP {
		network = "tcp4"
	}
	dst := netip.AddrPortFrom(t.Dst.Addr().Unmap(), t.Dst.Port())
	c, err := d.DialContext(ctx, network, dst.String())
	if err != nil {
		return fmt.Errorf("send SPA packet to %s/%s: %w", dst, t.Proto, err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetWriteDeadline(dl)
	}
	if _, err := c.Write(payload); err != nil {
		return fmt.Errorf("send SPA packet to %s/%s: %w", dst, t.Proto, err)
	}
	return nil
}

// httpRequest is the request fwknop's client sends for -P http: the wire
// in the path with '+' and '/' made URL-safe ('-' and '_'; fwknopd turns
// them back), HTTP/1.0, and the User-Agent fwknopd looks for.
func (t Transport) httpRequest(wire string) string {
	path := strings.NewReplacer("+", "-", "/", "_").Replace(wire)
	ua := t.UserAgent
	if ua == "" {
		ua = DefaultUserAgent
	}
	host := t.Host
	if host == "" {
		host = t.Dst.Addr().Unmap().String()
	}
	return "GET /" + path + " HTTP/1.0\r\nUser-Agent: " + ua + "\r\nAccept: */*\r\nHost: " + host + "\r\nConnection: close\r\n\r\n"
}
