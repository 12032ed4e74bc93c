package spa

import "fmt"

// sendRaw fails: Windows has no raw TCP and does not let a program build
// its own IPv4 header.
func sendRaw(t Transport, _ []byte) error {
	return fmt.Errorf("%w: Windows does not allow %s (raw IPv4 packets); use udp, tcp or http", ErrRaw, t.Proto)
}
