package sender

import (
	"context"
	"fmt"
	"net"
	"net/netip"
)

// Family restricts name resolution to one address family.
type Family int

// The address families.
const (
	AnyFamily Family = iota
	IPv4
	IPv6
)

// String returns "any", "inet" or "inet6", the names ssh_config uses.
func (f Family) String() string {
	switch f {
	case IPv4:
		return "inet"
	case IPv6:
		return "inet6"
	}
	return "any"
}

// Resolve looks host up once and returns the address to pin for the whole
// sequence: a literal is used as is; otherwise the first address of the
// family asked for, or of any family in the resolver's preference order.
func Resolve(ctx context.Context, host string, fam Family) (netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.Unmap()
		if (fam == IPv4 && !a.Is4()) || (fam == IPv6 && !a.Is6()) {
			return netip.Addr{}, fmt.Errorf("address %s is not %s", host, familyName(fam))
		}
		return a, nil
	}
	network := "ip"
	switch fam {
	case IPv4:
		network = "ip4"
	case IPv6:
		network = "ip6"
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, network, host)
	if err != nil || len(addrs) == 0 {
		if err == nil {
			err = fmt.Errorf("no %s address", familyName(fam))
		}
		return netip.Addr{}, fmt.Errorf("cannot resolve host %q: %w", host, simplifyDNSError(err))
	}
	return addrs[0].Unmap(), nil
}

func familyName(f Family) string {
	switch f {
	case IPv4:
		return "IPv4"
	case IPv6:
		return "IPv6"
	}
	return "IP"
}

func simplifyDNSError(err error) error {
	if de, ok := err.(*net.DNSError); ok {
		if de.IsNotFound {
			return fmt.Errorf("no such host")
		}
		return fmt.Errorf("%s", de.Err)
	}
	return err
}
