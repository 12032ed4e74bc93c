//go:build unix

package sender

import (
	"errors"
	"net/netip"

	"golang.org/x/sys/unix"
)

// connectOnce starts a non-blocking connect() and closes the socket at once.
// The kernel sends the SYN inside connect(); closing a socket in SYN-SENT
// discards it without a RST, so exactly one SYN reaches the wire and no
// retransmission can follow.
func connectOnce(addr netip.Addr, port uint16) error {
	domain, sa := sockaddr(addr, port)
	fd, err := unix.Socket(domain, unix.SOCK_STREAM, unix.IPPROTO_TCP)
	if err != nil {
		return err
	}
	unix.CloseOnExec(fd)
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return err
	}
	err = unix.Connect(fd, sa)
	unix.Close(fd)
	switch {
	case err == nil,
		errors.Is(err, unix.EINPROGRESS),
		errors.Is(err, unix.EALREADY),
		errors.Is(err, unix.EINTR),
		errors.Is(err, unix.ECONNREFUSED): // a closed port answered: the SYN went out
		return nil
	}
	return err
}

func sockaddr(addr netip.Addr, port uint16) (int, unix.Sockaddr) {
	if addr.Is4() {
		return unix.AF_INET, &unix.SockaddrInet4{Port: int(port), Addr: addr.As4()}
	}
	sa := &unix.SockaddrInet6{Port: int(port), Addr: addr.As16()}
	return unix.AF_INET6, sa
}
