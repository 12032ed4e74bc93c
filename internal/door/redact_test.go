package door

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/a-knock/knock/internal/exit"
)

// A send error of a stored sequence must not name its ports, but must
// keep its cause and its exit code.
func TestRedactKnockError(t *testing.T) {
	addr := netip.MustParseAddr("198.51.100.2")
	cause := errors.New("network is unreachable")
	sock := &net.OpError{Op: "write", Net: "udp",
		Source: &net.UDPAddr{IP: net.ParseIP("198.51.100.1"), Port: 35751},
		Addr:   &net.UDPAddr{IP: net.ParseIP("198.51.100.2"), Port: 47113},
		Err:    os.NewSyscallError("write", cause)}
	// The shape of the sender's error: "knock N (PORT:PROTO) to ADDR: ...".
	sent := fmt.Errorf("knock %d (%s) to %s: %w", 2, "47113:udp", addr, sock)

	for _, tc := range []struct {
		name string
		err  error
		code int
	}{
		{"network", sent, exit.Failure},
		{"usage", exit.Usage(sent), exit.UsageCode},
		{"interrupted", fmt.Errorf("knock 1 (47113:tcp) to %s: %w", addr, context.Canceled), exit.Interrupted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := redactKnockError("server.example (198.51.100.2)", tc.err)
			msg := err.Error()
			if strings.Contains(msg, "47113") {
				t.Errorf("error names a knock port: %q", msg)
			}
			if !strings.Contains(msg, "server.example") || !strings.Contains(msg, "198.51.100.2") {
				t.Errorf("error does not name the host and address: %q", msg)
			}
			if !errors.Is(err, errors.Unwrap(tc.err)) && !errors.Is(err, tc.err) {
				t.Errorf("error chain lost: %v", err)
			}
			if got := exit.Code(err); got != tc.code {
				t.Errorf("exit code %d, want %d", got, tc.code)
			}
		})
	}
	if !strings.Contains(redactKnockError("h", sent).Error(), "network is unreachable") {
		t.Errorf("cause lost: %v", redactKnockError("h", sent))
	}
}
