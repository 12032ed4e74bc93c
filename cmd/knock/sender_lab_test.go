//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/a-knock/knock/internal/lab"
)

// End-to-end tests of the sender against the real knockd in a network
// namespace lab. Each door's command touches a marker file named after
// the door and the knocker's address, so a test sees which door opened.

func senderDoor(name, sequence string, extra ...string) string {
	var b strings.Builder
	b.WriteString("[" + name + "]\n")
	b.WriteString("  sequence = " + sequence + "\n")
	b.WriteString("  command = /usr/bin/touch {{DIR}}/" + name + ".%IP%\n")
	for _, e := range extra {
		b.WriteString("  " + e + "\n")
	}
	return b.String()
}

func senderOpened(l *lab.Lab, door, ip string) bool {
	_, err := os.Stat(filepath.Join(l.Dir, door+"."+ip))
	return err == nil
}

func senderWaitOpened(l *lab.Lab, door, ip string) bool {
	return lab.WaitFor(3*time.Second, func() bool { return senderOpened(l, door, ip) })
}

// senderStaysClosed waits for knockd to have seen every packet, then checks
// that no marker appeared.
func senderStaysClosed(l *lab.Lab, door, ip string) bool {
	time.Sleep(800 * time.Millisecond)
	return !senderOpened(l, door, ip)
}

func mustKnock(t *testing.T, l *lab.Lab, args ...string) lab.Result {
	t.Helper()
	r := l.Knock(t, args...)
	if r.Code != 0 {
		t.Fatalf("knock %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r
}

// dropPorts makes the server drop the knock ports, as a real server does,
// so that no RST answers a SYN and the client kernel would retransmit.
func dropPorts(t *testing.T, l *lab.Lab, cmd, proto, ports string) {
	t.Helper()
	for _, port := range strings.Split(ports, ",") {
		l.MustExec(t, l.Server, cmd, "-A", "INPUT", "-p", proto, "--dport", port, "-j", "DROP")
	}
}

var protoNumber = map[string]string{"tcp": "6", "udp": "17"}

// packetsTo reads the packet counter of the DROP rule for port.
func packetsTo(t *testing.T, l *lab.Lab, cmd, proto string, port int) int {
	t.Helper()
	out := l.MustExec(t, l.Server, cmd, "-L", "INPUT", "-v", "-x", "-n")
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 3 && f[2] == "DROP" && (f[3] == proto || f[3] == protoNumber[proto]) &&
			strings.HasSuffix(line, proto[:3]+" dpt:"+strconv.Itoa(port)) {
			n, _ := strconv.Atoi(f[0])
			return n
		}
	}
	t.Fatalf("no DROP rule for %s/%d in:\n%s", proto, port, out)
	return 0
}

func TestLabConnectOneSYN(t *testing.T) {
	t.Parallel()
	lab.Require(t, "knockd", "iptables")
	l := lab.New(t)
	kd := l.Knockd(t, senderDoor("syn", "7101,7102,7103", "seq_timeout = 10", "tcpflags = syn"))
	dropPorts(t, l, "iptables", "tcp", "7101,7102,7103")
	// 1.5 s between knocks: longer than the kernel's first SYN
	// retransmission (1 s). A second SYN to 7101 would arrive while knockd
	// expects 7102 and kill the attempt.
	mustKnock(t, l, "-d", "1500", lab.ServerIP4.String(), "7101,7102", "7103")
	if !senderWaitOpened(l, "syn", lab.ClientIP4.String()) {
		t.Fatalf("door did not open; knockd:\n%s", kd.Log())
	}
	time.Sleep(1200 * time.Millisecond) // room for any late retransmission
	for _, p := range []int{7101, 7102, 7103} {
		if n := packetsTo(t, l, "iptables", "tcp", p); n != 1 {
			t.Errorf("port %d received %d packets, want exactly 1 SYN", p, n)
		}
	}
}

func TestLabRawFlags(t *testing.T) {
	t.Parallel()
	lab.Require(t, "knockd", "iptables")
	l := lab.New(t)
	kd := l.Knockd(t, senderDoor("fin", "7201,7202,7203", "seq_timeout = 10", "tcpflags = fin,!ack"))
	dropPorts(t, l, "iptables", "tcp", "7201,7202,7203")
	// A plain SYN does not match fin,!ack: knockd ignores it.
	mustKnock(t, l, "--method", "connect", lab.ServerIP4.String(), "7201,7202,7203")
	if !senderStaysClosed(l, "fin", lab.ClientIP4.String()) {
		t.Fatal("SYN knocks opened a fin,!ack door")
	}
	// auto picks raw for these flags; the server's line pasted verbatim.
	r := mustKnock(t, l, "-v", "--tcp-flags", "fin,!ack", lab.ServerIP4.String(), "7201,7202,7203")
	if !strings.Contains(r.Stderr, "tcp fin (raw)") {
		t.Errorf("-v output does not show raw FIN packets:\n%s", r.Stderr)
	}
	if !senderWaitOpened(l, "fin", lab.ClientIP4.String()) {
		t.Fatalf("raw FIN knocks did not open; knockd:\n%s", kd.Log())
	}
	for _, p := range []int{7201, 7202, 7203} {
		if n := packetsTo(t, l, "iptables", "tcp", p); n != 2 {
			t.Errorf("port %d received %d packets, want 2 (one SYN, one FIN)", p, n)
		}
	}
}

func TestLabRawIPv6AndSynAck(t *testing.T) {
	t.Parallel()
	lab.Require(t, "knockd")
	l := lab.New(t)
	kd := l.Knockd(t, senderDoor("synack", "7251,7252", "seq_timeout = 10", "tcpflags = syn,ack"))
	mustKnock(t, l, "-6", "--tcp-flags", "syn,ack", lab.ServerIP6.String(), "7251", "7252")
	if !senderWaitOpened(l, "synack", lab.ClientIP6.String()) {
		t.Fatalf("raw IPv6 SYN+ACK knocks did not open; knockd:\n%s", kd.Log())
	}
}

func TestLabUDPAndMixed(t *testing.T) {
	t.Parallel()
	lab.Require(t, "knockd", "iptables")
	l := lab.New(t)
	kd := l.Knockd(t,
		senderDoor("udp", "7301:udp,7302:udp,7303:udp", "seq_timeout = 10")+
			senderDoor("mixed", "7401,7402:udp,7403", "seq_timeout = 10", "tcpflags = syn"))
	dropPorts(t, l, "iptables", "udp", "7301,7302,7303,7402")
	mustKnock(t, l, "-u", "--payload", "hello", lab.ServerIP4.String(), "7301,7302,7303")
	if !senderWaitOpened(l, "udp", lab.ClientIP4.String()) {
		t.Fatalf("UDP knocks did not open; knockd:\n%s", kd.Log())
	}
	for _, p := range []int{7301, 7302, 7303} {
		if n := packetsTo(t, l, "iptables", "udp", p); n != 1 {
			t.Errorf("udp port %d received %d datagrams, want 1", p, n)
		}
	}
	mustKnock(t, l, lab.ServerIP4.String(), "7401,7402:udp,7403")
	if !senderWaitOpened(l, "mixed", lab.ClientIP4.String()) {
		t.Fatalf("mixed knocks did not open; knockd:\n%s", kd.Log())
	}
}

func TestLabIPv6(t *testing.T) {
	t.Parallel()
	lab.Require(t, "knockd")
	l := lab.New(t)
	kd := l.Knockd(t, senderDoor("six", "7501,7502:udp,7503", "seq_timeout = 10"))
	mustKnock(t, l, "-6", lab.ServerIP6.String(), "7501,7502:udp,7503")
	if !senderWaitOpened(l, "six", lab.ClientIP6.String()) {
		t.Fatalf("IPv6 knocks did not open; knockd:\n%s", kd.Log())
	}
	if senderOpened(l, "six", lab.ClientIP4.String()) {
		t.Fatal("an IPv6 knock opened for the IPv4 address")
	}
	// -4 with an IPv6 literal is a usage error.
	if r := l.Knock(t, "-4", lab.ServerIP6.String(), "7501"); r.Code != 2 {
		t.Fatalf("-4 with an IPv6 address: exit %d, want 2: %s", r.Code, r.Stderr)
	}
}

func TestLabLongSequences(t *testing.T) {
	t.Parallel()
	lab.Require(t, "knockd")
	l := lab.New(t)
	ports32 := make([]string, 32)
	for i := range ports32 {
		ports32[i] = strconv.Itoa(20001 + i*7)
	}
	kd := l.Knockd(t,
		senderDoor("long", strings.Join(ports32, ","), "seq_timeout = 10")+
			senderDoor("paced", "7601,7602:udp,7603,7604,7605:udp,7606", "seq_timeout = 10"))
	mustKnock(t, l, append([]string{"-d", "5", lab.ServerIP4.String()}, ports32...)...)
	if !senderWaitOpened(l, "long", lab.ClientIP4.String()) {
		t.Fatalf("32-knock sequence did not open; knockd:\n%s", kd.Log())
	}
	mustKnock(t, l, "-d", "300", lab.ServerIP4.String(), "7601,7602:udp,7603,7604,7605:udp,7606")
	if !senderWaitOpened(l, "paced", lab.ClientIP4.String()) {
		t.Fatalf("paced sequence did not open; knockd:\n%s", kd.Log())
	}
	// 33 knocks is more than knockd accepts: a usage error, nothing sent.
	r := l.Knock(t, append([]string{lab.ServerIP4.String()}, append(ports32, "1")...)...)
	if r.Code != 2 || !strings.Contains(r.Stderr, "at most 32") {
		t.Fatalf("33 knocks: exit %d: %s", r.Code, r.Stderr)
	}
}

func TestLabWrongOrder(t *testing.T) {
	t.Parallel()
	lab.Require(t, "knockd")
	l := lab.New(t)
	kd := l.Knockd(t, senderDoor("order", "7701,7702,7703", "seq_timeout = 10"))
	mustKnock(t, l, lab.ServerIP4.String(), "7703,7702,7701")
	mustKnock(t, l, lab.ServerIP4.String(), "7701,7703,7702")
	if !senderStaysClosed(l, "order", lab.ClientIP4.String()) {
		t.Fatalf("a wrong order opened; knockd:\n%s", kd.Log())
	}
}

func TestLabSeqTimeout(t *testing.T) {
	t.Parallel()
	lab.Require(t, "knockd")
	l := lab.New(t)
	kd := l.Knockd(t, senderDoor("slow", "7801,7802,7803", "seq_timeout = 2"))
	// 2.2 s from the first to the last knock: at least 2 whole seconds
	// apart on knockd's clock, so the attempt has timed out.
	r := mustKnock(t, l, "-d", "1100", "--seq-timeout", "2", lab.ServerIP4.String(), "7801,7802,7803")
	if !strings.Contains(r.Stderr, "not inside seq_timeout") {
		t.Errorf("no seq_timeout warning: %s", r.Stderr)
	}
	if !senderStaysClosed(l, "slow", lab.ClientIP4.String()) || !kd.WaitLog("sequence timeout", time.Second) {
		t.Fatalf("a sequence slower than seq_timeout opened; knockd:\n%s", kd.Log())
	}
	// 0.9 s: under one second, always inside.
	mustKnock(t, l, "-d", "450", "--seq-timeout", "2", lab.ServerIP4.String(), "7801,7802,7803")
	if !senderWaitOpened(l, "slow", lab.ClientIP4.String()) {
		t.Fatalf("a sequence inside seq_timeout did not open; knockd:\n%s", kd.Log())
	}
}

// guardedDoor opens tcp/22 for the knocker with iptables, as the seed
// does (but inserting the ACCEPT, not appending it behind the DROP).
const guardedDoor = `[open]
  sequence = 7901,7902,7903
  seq_timeout = 5
  tcpflags = syn
  command = /usr/sbin/iptables -I INPUT -s %IP% -p tcp --dport 22 -j ACCEPT
`

func guardedLab(t *testing.T) (*lab.Lab, *lab.Knockd) {
	lab.Require(t, "knockd", "iptables")
	l := lab.New(t)
	l.MustExec(t, l.Server, "iptables", "-A", "INPUT", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT")
	l.MustExec(t, l.Server, "iptables", "-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "DROP")
	l.ListenTCP(t, l.Server, "0.0.0.0:22")
	return l, l.Knockd(t, guardedDoor)
}

func TestLabWaitVerifies(t *testing.T) {
	t.Parallel()
	l, kd := guardedLab(t)
	// The wrong sequence never opens: --wait says so, exit 1.
	r := l.Knock(t, "--wait", "22", "--timeout", "2", "--retries", "1", lab.ServerIP4.String(), "7903,7902,7901")
	if r.Code != 1 || !strings.Contains(r.Stderr, "did not open") {
		t.Fatalf("wrong sequence with --wait: exit %d: %s", r.Code, r.Stderr)
	}
	r = mustKnock(t, l, "-v", "--wait", "22", lab.ServerIP4.String(), "7901,7902,7903")
	if !strings.Contains(r.Stderr, "open after") {
		t.Errorf("-v does not report the verified port: %s", r.Stderr)
	}
	if !kd.WaitLog("OPEN SESAME", time.Second) {
		t.Fatalf("knockd did not open:\n%s", kd.Log())
	}
}

func TestLabWaitRetriesAfterPartialSequence(t *testing.T) {
	t.Parallel()
	l, kd := guardedLab(t)
	// Leave knockd with a live attempt at stage 2 (the tail "lost"), the
	// case that defeats a naive replay: the replay's first knock kills the
	// attempt and the rest of that replay is wasted.
	mustKnock(t, l, lab.ServerIP4.String(), "7901,7902")
	r := mustKnock(t, l, "-v", "--wait", "22", "--timeout", "8", lab.ServerIP4.String(), "7901,7902,7903")
	if !kd.WaitLog("OPEN SESAME", time.Second) {
		t.Fatalf("knockd did not open after a partial sequence:\nknock: %s\nknockd: %s", r.Stderr, kd.Log())
	}
}
