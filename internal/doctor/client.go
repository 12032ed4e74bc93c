package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/a-knock/knock/internal/sender"
	"github.com/a-knock/knock/internal/seq"
)

// Status grades one client check.
type Status int

// The statuses, mildest first.
const (
	OK Status = iota
	Warn
	Fail
)

// String returns "ok", "warn" or "FAIL", the column doctor prints.
func (s Status) String() string {
	switch s {
	case Warn:
		return "warn"
	case Fail:
		return "FAIL"
	}
	return "ok"
}

// Result is the outcome of one client check.
type Result struct {
	Status  Status
	Check   string // "resolve", "family", "raw", "guarded", "knock-ports", ...
	Message string
}

// String formats the result as one line: "ok    resolve: ...".
func (r Result) String() string {
	return fmt.Sprintf("%-5s %s: %s", r.Status, r.Check, r.Message)
}

// ClientInput is what [CheckClient] examines.
type ClientInput struct {
	Host      string
	Family    sender.Family // the family knock pins (profile, -4/-6)
	SSHFamily string        // ssh_config AddressFamily: "", "any", "inet", "inet6"
	Knocks    seq.Sequence  // the open sequence; empty when unknown
	Flags     seq.Flags     // the door's TCPFlags
	Method    sender.Method
	Port      uint16        // guarded TCP port; 0 skips the port checks
	Timeout   time.Duration // per network probe; 0 means 2 s
}

// Client checks, overridable in tests.
var (
	lookupIP = func(ctx context.Context, network, host string) ([]netip.Addr, error) {
		return net.DefaultResolver.LookupNetIP(ctx, network, host)
	}
	openRaw = func(addr netip.Addr, f seq.Flags) error {
		s, err := sender.New(addr, sender.Options{Method: sender.Raw, Flags: f})
		if err != nil {
			return err
		}
		return s.Close()
	}
)

// CheckClient runs the client-side checks that need no knock: name
// resolution per family and the family ssh will use, raw sockets for the
// flags, and that the guarded port is closed. It returns the results and
// the address knock pins (invalid when the host does not resolve).
func CheckClient(ctx context.Context, in ClientInput) ([]Result, netip.Addr) {
	if in.Timeout <= 0 {
		in.Timeout = 2 * time.Second
	}
	var out []Result
	add := func(s Status, check, format string, args ...any) {
		out = append(out, Result{Status: s, Check: check, Message: fmt.Sprintf(format, args...)})
	}
	addr, res := resolveChecks(ctx, in)
	out = append(out, res...)
	if !addr.IsValid() {
		return out, addr
	}
	if r, ok := natCheck(addr); ok {
		out = append(out, r)
	}
	needRaw := in.Method == sender.Raw || (in.Method != sender.Connect && in.Flags.NeedsRaw() && hasTCP(in.Knocks, len(in.Knocks) == 0))
	rawErr := openRaw(addr, in.Flags)
	switch {
	case needRaw && rawErr != nil:
		add(Fail, "raw sockets", "tcpflags %q need raw sockets, and this process cannot open them: %v", in.Flags, rawErr)
	case needRaw:
		add(OK, "raw sockets", "available, as tcpflags %q need", in.Flags)
	case rawErr != nil:
		add(OK, "raw sockets", "not needed: a plain connect() sends the SYN these knocks need (raw sockets unavailable here)")
	default:
		add(OK, "raw sockets", "not needed (a plain connect() sends the SYN), but available")
	}
	if in.Port != 0 {
		if sender.IsOpen(ctx, addr, in.Port, in.Timeout) {
			add(Warn, "guarded port", "tcp/%d on %s accepts connections before any knock: the firewall does not guard it, or an earlier knock is still open", in.Port, addr)
		} else {
			add(OK, "guarded port", "tcp/%d on %s is closed before knocking", in.Port, addr)
		}
	}
	return out, addr
}

func resolveChecks(ctx context.Context, in ClientInput) (netip.Addr, []Result) {
	var out []Result
	add := func(s Status, check, format string, args ...any) {
		out = append(out, Result{Status: s, Check: check, Message: fmt.Sprintf(format, args...)})
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var v4, v6, all []netip.Addr
	if a, err := netip.ParseAddr(in.Host); err == nil {
		a = a.Unmap()
		all = []netip.Addr{a}
		if a.Is4() {
			v4 = all
		} else {
			v6 = all
		}
		add(OK, "resolve", "%s is an address literal (%s)", in.Host, famName(a))
	} else {
		v4, _ = lookupIP(ctx, "ip4", in.Host)
		v6, _ = lookupIP(ctx, "ip6", in.Host)
		all, _ = lookupIP(ctx, "ip", in.Host)
		switch {
		case len(v4) == 0 && len(v6) == 0:
			add(Fail, "resolve", "%s has neither an A nor an AAAA record here", in.Host)
			return netip.Addr{}, out
		default:
			add(OK, "resolve", "%s: A %s; AAAA %s", in.Host, list(v4), list(v6))
		}
	}
	// The address knock pins, as sender.Resolve picks it: the first of
	// the family asked for, else the first in the resolver's order.
	pick := all
	switch in.Family {
	case sender.IPv4:
		pick = v4
	case sender.IPv6:
		pick = v6
	}
	if len(pick) == 0 {
		add(Fail, "family", "knock cannot knock %s: no %s address (profile family or -4/-6)", in.Host, in.Family)
		return netip.Addr{}, out
	}
	addr := pick[0].Unmap()
	// ssh connects to the first address getaddrinfo returns for its
	// AddressFamily; Go's resolver sorts by the same RFC 6724 rules.
	var sshAddr netip.Addr
	sshFam := in.SSHFamily
	switch sshFam {
	case "inet":
		if len(v4) > 0 {
			sshAddr = v4[0].Unmap()
		}
	case "inet6":
		if len(v6) > 0 {
			sshAddr = v6[0]
		}
	default:
		sshFam = "any"
		if len(all) > 0 {
			sshAddr = all[0].Unmap()
		}
	}
	switch {
	case !sshAddr.IsValid():
		add(Warn, "family", "knock knocks %s (%s); ssh (AddressFamily %s) finds no address", addr, famName(addr), sshFam)
	case sshAddr.Is4() != addr.Is4():
		add(Fail, "family", "knock knocks %s (%s) but ssh (AddressFamily %s) connects to %s (%s) first: knockd opens the port for the other address; use the same family on both (knock -4/-6 or profile --family, and AddressFamily in ~/.ssh/config)",
			addr, famName(addr), sshFam, sshAddr, famName(sshAddr))
	default:
		add(OK, "family", "knock knocks %s (%s) and ssh (AddressFamily %s) connects to %s", addr, famName(addr), sshFam, sshAddr)
	}
	return addr, out
}

// natCheck notes when this machine reaches addr from a private source
// address while addr is public: knockd then sees, and opens the port for,
// the NAT's public address, shared by everyone behind it.
func natCheck(addr netip.Addr) (Result, bool) {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, 9)))
	if err != nil {
		return Result{}, false
	}
	defer c.Close()
	src := c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
	if isPrivate(src) && !isPrivate(addr) && !addr.IsLoopback() {
		return Result{Status: Warn, Check: "nat", Message: fmt.Sprintf("this machine reaches %s from the private address %s: knockd sees your NAT's public address and opens the port for everyone behind it", addr, src)}, true
	}
	return Result{Status: OK, Check: "nat", Message: fmt.Sprintf("source address %s; knockd sees the knock from it unless a NAT further out rewrites it", src)}, true
}

func isPrivate(a netip.Addr) bool {
	cgnat := netip.MustParsePrefix("100.64.0.0/10")
	return a.IsPrivate() || cgnat.Contains(a) || a.IsLinkLocalUnicast()
}

// ProbeKnockPort checks that a TCP knock port is not answered: a knockd
// port is closed, so a completed connection means a transparent proxy,
// VPN client or security software on this side intercepts the knocks (or
// the server listens there). It probes a TCP knock from the middle of the
// sequence: neither the first knock of the open door nor that of its
// reversed close door, so the probe starts no attempt at knockd.
func ProbeKnockPort(ctx context.Context, addr netip.Addr, knocks seq.Sequence, timeout time.Duration) *Result {
	var inner []int
	for i, k := range knocks {
		if k.Proto == seq.TCP && i > 0 && i < len(knocks)-1 {
			inner = append(inner, i)
		}
	}
	if len(inner) == 0 {
		return &Result{Status: OK, Check: "knock ports", Message: "not probed: no tcp knock inside the sequence (probing the first or last knock would start a door)"}
	}
	i := inner[len(inner)/2]
	port := knocks[i].Port
	// The sequence is a secret: name the knock by its place, not its port.
	which := fmt.Sprintf("knock %d of %d (tcp)", i+1, len(knocks))
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(addr, port).String())
	switch {
	case err == nil:
		c.Close()
		return &Result{Status: Fail, Check: "knock ports", Message: fmt.Sprintf("%s answered: knock ports stay closed on a knockd server, so a proxy, VPN or security software here intercepts connections (or the server listens there) and the knocks may never reach knockd", which)}
	case errors.Is(err, syscall.ECONNREFUSED):
		return &Result{Status: OK, Check: "knock ports", Message: fmt.Sprintf("%s refused: the SYN went out and nothing intercepts it", which)}
	default:
		return &Result{Status: OK, Check: "knock ports", Message: fmt.Sprintf("%s not answered, as a knockd port should be", which)}
	}
}

func famName(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}

func list(as []netip.Addr) string {
	if len(as) == 0 {
		return "none"
	}
	s := ""
	for i, a := range as {
		if i > 0 {
			s += ", "
		}
		s += a.Unmap().String()
	}
	return s
}
