package doctor

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/a-knock/knock/internal/sender"
	"github.com/a-knock/knock/internal/seq"
)

func statusOf(rs []Result, check string) (Result, bool) {
	for _, r := range rs {
		if r.Check == check {
			return r, true
		}
	}
	return Result{}, false
}

func fakeResolver(t *testing.T, v4, v6 []string) {
	t.Helper()
	old := lookupIP
	t.Cleanup(func() { lookupIP = old })
	parse := func(ss []string) []netip.Addr {
		var out []netip.Addr
		for _, s := range ss {
			out = append(out, netip.MustParseAddr(s))
		}
		return out
	}
	lookupIP = func(_ context.Context, network, _ string) ([]netip.Addr, error) {
		switch network {
		case "ip4":
			return parse(v4), nil
		case "ip6":
			return parse(v6), nil
		}
		return append(parse(v6), parse(v4)...), nil // IPv6 preferred
	}
}

func TestResolveFamilies(t *testing.T) {
	fakeResolver(t, []string{"198.51.100.2"}, []string{"2001:db8::2"})
	_, rs := resolveChecks(context.Background(), ClientInput{Host: "server.example", Family: sender.IPv4})
	r, _ := statusOf(rs, "resolve")
	if r.Status != OK || !strings.Contains(r.Message, "A 198.51.100.2; AAAA 2001:db8::2") {
		t.Errorf("resolve: %v", r)
	}
	r, _ = statusOf(rs, "family")
	if r.Status != Fail || !strings.Contains(r.Message, "connects to 2001:db8::2 (IPv6) first") {
		t.Errorf("family mismatch not reported: %v", r)
	}
	_, rs = resolveChecks(context.Background(), ClientInput{Host: "server.example", Family: sender.IPv4, SSHFamily: "inet"})
	if r, _ = statusOf(rs, "family"); r.Status != OK {
		t.Errorf("matching families: %v", r)
	}
	fakeResolver(t, nil, nil)
	addr, rs := resolveChecks(context.Background(), ClientInput{Host: "nowhere.example"})
	if r, _ = statusOf(rs, "resolve"); r.Status != Fail || addr.IsValid() {
		t.Errorf("unresolvable: %v", r)
	}
}

func TestCheckClientLoopback(t *testing.T) {
	old := openRaw
	defer func() { openRaw = old }()
	openRaw = func(netip.Addr, seq.Flags) error { return errors.New("operation not permitted") }

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	open := uint16(ln.Addr().(*net.TCPAddr).Port)
	fin, _ := seq.ParseFlags("fin,!ack")
	knocks, _ := seq.Parse(seq.TCP, "31001,42002,33003")
	rs, addr := CheckClient(context.Background(), ClientInput{Host: "127.0.0.1", Knocks: knocks, Flags: fin, Port: open, Timeout: time.Second})
	for _, r := range rs {
		t.Log(r)
	}
	if r, _ := statusOf(rs, "raw sockets"); r.Status != Fail {
		t.Errorf("raw needed but unavailable: %v", r)
	}
	if r, _ := statusOf(rs, "guarded port"); r.Status != Warn {
		t.Errorf("open guarded port: %v", r)
	}
	// A knock port that answers: the listener stands in for a proxy.
	answered, _ := seq.Parse(seq.TCP, "31001,"+itoa(open)+",33003")
	if r := ProbeKnockPort(context.Background(), addr, answered, time.Second); r.Status != Fail || !strings.Contains(r.Message, "knock 2 of 3") {
		t.Errorf("answered knock port: %v", r)
	}
	r := ProbeKnockPort(context.Background(), addr, knocks, time.Second)
	if r.Status != OK {
		t.Errorf("closed knock port: %v", r)
	}
	// The sequence is a secret: the report names the knock, not its port.
	for _, k := range knocks {
		if strings.Contains(r.Message, itoa(k.Port)) {
			t.Errorf("report names knock port %d: %v", k.Port, r)
		}
	}
	udp, _ := seq.Parse(seq.UDP, "31001:tcp,42002,33003:tcp")
	if r := ProbeKnockPort(context.Background(), addr, udp, time.Second); r.Status != OK || !strings.Contains(r.Message, "not probed") {
		t.Errorf("no inner tcp knock: %v", r)
	}
	syn, _ := seq.ParseFlags("syn")
	rs, _ = CheckClient(context.Background(), ClientInput{Host: "127.0.0.1", Knocks: knocks, Flags: syn})
	if r, _ := statusOf(rs, "raw sockets"); r.Status != OK {
		t.Errorf("raw not needed: %v", r)
	}
}

func itoa(p uint16) string {
	return netip.AddrPortFrom(netip.IPv4Unspecified(), p).String()[len("0.0.0.0:"):]
}
