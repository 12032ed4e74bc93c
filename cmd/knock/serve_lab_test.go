//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/a-knock/knock/internal/lab"
)

// The parity suite: the same knockd.conf and the same scripted knocks
// against the real knockd and against `knock serve` (sniff mode and
// listen mode) must give the same open/not-open outcome, case by case.

var (
	v4 = lab.ServerIP4.String()
	v6 = lab.ServerIP6.String()
	c4 = lab.ClientIP4.String()
	c6 = lab.ClientIP6.String()
)

// parityDoor is a door whose command touches a marker file named after
// the door and the knocker.
func parityDoor(name, sequence string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%s]\n  sequence = %s\n  seq_timeout = 5\n  command = /usr/bin/touch {{DIR}}/mark/%s.%%IP%%\n", name, sequence, name)
	for _, e := range extra {
		b.WriteString("  " + e + "\n")
	}
	return b.String()
}

// step is one client action: the knock binary or knockd's C client, in
// the client namespace.
type step struct {
	c    bool // knockd's C knock client instead of ours
	args []string
}

func ours(args ...string) step   { return step{args: args} }
func cknock(args ...string) step { return step{c: true, args: args} }

type parityCase struct {
	name   string
	doors  []string
	steps  []step
	want   map[string]bool // "door.IP" -> opened
	listen bool            // the case applies to listen mode
	// knockd, when set, is what knockd 0.8 really does where it departs
	// from its documented semantics (which knock serve follows): its
	// clean-up loop in sniff() empties the whole attempts list whenever it
	// removes the list's head ("if(lp == attempts) attempts = NULL;"), so
	// a finished or failed attempt that is the oldest one makes knockd
	// forget every other attempt, of every source.
	knockd map[string]bool
}

func parityCases() []parityCase {
	syn := parityDoor("a", "7101,7102,7103", "tcpflags = syn")
	open4 := map[string]bool{"a." + c4: true}
	closed4 := map[string]bool{"a." + c4: false}
	return []parityCase{
		{"tcp connect (knock)", []string{syn}, []step{ours(v4, "7101", "7102", "7103")}, open4, true, nil},
		{"tcp connect (C knock)", []string{syn}, []step{cknock(v4, "7101", "7102", "7103")}, open4, true, nil},
		{"raw flags fin,!ack", []string{parityDoor("a", "7101,7102,7103", "tcpflags = fin,!ack")},
			[]step{ours("--tcp-flags", "fin,!ack", v4, "7101", "7102", "7103")}, open4, false, nil},
		{"SYN to a fin,!ack door", []string{parityDoor("a", "7101,7102,7103", "tcpflags = fin,!ack")},
			[]step{ours(v4, "7101", "7102", "7103")}, closed4, false, nil},
		{"non-matching flags ignored", []string{syn},
			[]step{ours(v4, "7101"), ours("--tcp-flags", "ack", v4, "7102"), ours(v4, "7102", "7103")}, open4, true, nil},
		{"udp (knock -u)", []string{parityDoor("a", "7201:udp,7202:udp,7203:udp")}, []step{ours("-u", v4, "7201", "7202", "7203")}, open4, true, nil},
		{"udp (C knock -u)", []string{parityDoor("a", "7201:udp,7202:udp,7203:udp")}, []step{cknock("-u", v4, "7201", "7202", "7203")}, open4, true, nil},
		{"mixed tcp/udp (knock)", []string{parityDoor("a", "7301,7302:udp,7303")}, []step{ours(v4, "7301,7302:udp,7303")}, open4, true, nil},
		{"mixed tcp/udp (C knock)", []string{parityDoor("a", "7301,7302:udp,7303")}, []step{cknock(v4, "7301", "7302:udp", "7303")}, open4, true, nil},
		{"wrong order", []string{syn}, []step{ours(v4, "7103", "7102", "7101")}, closed4, true, nil},
		{"wrong protocol", []string{syn, parityDoor("b", "7102:udp,7990")}, []step{ours(v4, "7101,7102:udp,7103")}, closed4, true, nil},
		{"timeout", []string{parityDoor("a", "7101,7102,7103", "seq_timeout = 2")}, []step{ours("-d", "1300", v4, "7101", "7102", "7103")}, closed4, true, nil},
		{"foreign ports ignored", []string{syn}, []step{ours(v4, "7101", "7999", "7102", "22", "7103")}, open4, true, nil},
		{"wrong port kills the attempt", []string{syn}, []step{ours(v4, "7101", "7103", "7102", "7103")}, closed4, true, nil},
		{"killed attempt, fresh start", []string{syn}, []step{ours(v4, "7101", "7103", "7101", "7102", "7103")}, open4, false, nil},
		// Listen mode has one socket queue per port: a port knocked twice
		// within the same wake-up of the server is seen out of order. The
		// same knocks, one process each (some ms apart), work everywhere.
		{"killed attempt, fresh start (paced)", []string{syn},
			[]step{ours(v4, "7101"), ours(v4, "7103"), ours(v4, "7101"), ours(v4, "7102"), ours(v4, "7103")}, open4, true, nil},
		{"two knockers interleaved", []string{syn},
			[]step{ours(v4, "7101"), ours(v6, "7101"), ours(v4, "7102"), ours(v6, "7102"), ours(v4, "7103"), ours(v6, "7103")},
			map[string]bool{"a." + c4: true, "a." + c6: true}, true,
			map[string]bool{"a." + c4: true, "a." + c6: false}},
		{"interleaved, other knocker wrong", []string{syn},
			[]step{ours(v4, "7101"), ours(v6, "7102"), ours(v4, "7102"), ours(v6, "7101"), ours(v4, "7103")},
			map[string]bool{"a." + c4: true, "a." + c6: false}, true, nil},
		{"ipv6 (knock -6)", []string{syn}, []step{ours("-6", v6, "7101", "7102", "7103")}, map[string]bool{"a." + c6: true}, true, nil},
		{"ipv6 (C knock -6)", []string{syn}, []step{cknock("-6", v6, "7101", "7102", "7103")}, map[string]bool{"a." + c6: true}, true, nil},
		{"doors sharing a first port", []string{syn, parityDoor("b", "7101,7104,7105", "tcpflags = syn")},
			[]step{ours(v4, "7101", "7104", "7105")}, map[string]bool{"a." + c4: false, "b." + c4: true}, true,
			map[string]bool{"a." + c4: false, "b." + c4: false}},
		// The same doors listed the other way round: the dying attempt is
		// not the oldest, so knockd keeps the other one.
		{"doors sharing a first port, reversed", []string{parityDoor("b", "7101,7104,7105", "tcpflags = syn"), syn},
			[]step{ours(v4, "7101", "7104", "7105")}, map[string]bool{"a." + c4: false, "b." + c4: true}, true, nil},
	}
}

// paritySetup drops every knock port in the server's INPUT chain, so
// that only a sniffer can see the knocks.
func dropKnockPorts(t *testing.T, l *lab.Lab, add bool) {
	op := "-D"
	if add {
		op = "-A"
	}
	for _, tool := range []string{"iptables", "ip6tables"} {
		for _, proto := range []string{"tcp", "udp"} {
			if out, err := l.Exec(l.Server, tool, op, "INPUT", "-p", proto, "--dport", "7000:7999", "-j", "DROP"); err != nil {
				t.Fatalf("%s %s: %v: %s", tool, op, err, out)
			}
		}
	}
}

// runParityCase plays one case and returns the outcome per marker.
func runParityCase(t *testing.T, l *lab.Lab, c parityCase) map[string]bool {
	mark := filepath.Join(l.Dir, "mark")
	os.RemoveAll(mark)
	if err := os.MkdirAll(mark, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range c.steps {
		var r lab.Result
		if s.c {
			r = l.RunIn(t, l.Client, nil, "/usr/bin/knock", s.args...)
		} else {
			r = l.Knock(t, s.args...)
		}
		if r.Code != 0 {
			t.Errorf("%s: knock %v: exit %d: %s", c.name, s.args, r.Code, r.Stderr)
		}
	}
	exists := func(m string) bool {
		_, err := os.Stat(filepath.Join(mark, m))
		return err == nil
	}
	lab.WaitFor(2*time.Second, func() bool {
		for m, open := range c.want {
			if open && !exists(m) {
				return false
			}
		}
		return true
	})
	time.Sleep(400 * time.Millisecond)
	got := map[string]bool{}
	for m := range c.want {
		got[m] = exists(m)
	}
	return got
}

func outcome(m map[string]bool) string {
	var parts []string
	for _, c := range []string{"a", "b"} {
		for _, ip := range []string{c4, c6} {
			if v, ok := m[c+"."+ip]; ok {
				s := "closed"
				if v {
					s = "OPEN"
				}
				parts = append(parts, fmt.Sprintf("%s/%s %s", c, ip, s))
			}
		}
	}
	return strings.Join(parts, ", ")
}

func startServe(t *testing.T, l *lab.Lab, conf string, mode string) *lab.Proc {
	t.Helper()
	path := filepath.Join(l.Dir, "serve.conf")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(conf, "{{DIR}}", l.Dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	p := l.Start(t, l.Server, lab.KnockBinary(t), "serve", "-c", path, "-i", l.ServerIf, "--"+mode)
	if !lab.WaitFor(10*time.Second, func() bool {
		return strings.Contains(p.Output(), "listening on") || p.Exited()
	}) || p.Exited() {
		t.Fatalf("knock serve --%s did not start:\n%s", mode, p.Output())
	}
	return p
}

func stopProc(p *lab.Proc) {
	_ = p.Signal(syscall.SIGTERM)
	if _, ok := p.Wait(5 * time.Second); !ok {
		_ = p.Signal(syscall.SIGKILL)
		p.Wait(5 * time.Second)
	}
}

func TestParityKnockdServe(t *testing.T) {
	lab.Require(t, "knockd", "iptables", "ip6tables", "knock")
	if testing.Short() {
		t.Skip("-short: lab test")
	}
	l := lab.New(t)
	var table []string
	table = append(table, fmt.Sprintf("| %-34s | %-28s | %-28s | %-28s |", "case", "knockd", "knock serve --sniff", "knock serve --listen"))
	for _, c := range parityCases() {
		conf := strings.Join(c.doors, "\n")
		// knockd and sniff mode with the knock ports dropped by iptables.
		dropKnockPorts(t, l, true)
		kd := l.Knockd(t, conf)
		gotKD := runParityCase(t, l, c)
		stopProc(kd.Proc)
		sn := startServe(t, l, conf, "sniff")
		gotSn := runParityCase(t, l, c)
		stopProc(sn)
		dropKnockPorts(t, l, false)
		gotLi := "n/a"
		if c.listen {
			li := startServe(t, l, conf, "listen")
			m := runParityCase(t, l, c)
			stopProc(li)
			gotLi = outcome(m)
			if gotLi != outcome(c.want) {
				t.Errorf("%s: listen mode %s, want %s\n%s", c.name, gotLi, outcome(c.want), li.Output())
			}
		}
		wantKD := c.want
		if c.knockd != nil {
			wantKD = c.knockd
		}
		if outcome(gotKD) != outcome(wantKD) {
			t.Errorf("%s: knockd gave %s, the case expects %s\n%s", c.name, outcome(gotKD), outcome(wantKD), kd.Log())
		}
		if outcome(gotSn) != outcome(c.want) {
			t.Errorf("%s: sniff mode %s, want %s (knockd %s)\n%s", c.name, outcome(gotSn), outcome(c.want), outcome(gotKD), sn.Output())
		}
		name := c.name
		if c.knockd != nil {
			name += " (knockd list bug)"
		}
		table = append(table, fmt.Sprintf("| %-34s | %-28s | %-28s | %-28s |", name, outcome(gotKD), outcome(gotSn), gotLi))
	}
	t.Logf("parity table:\n%s", strings.Join(table, "\n"))
	if f := os.Getenv("KNOCK_PARITY_TABLE"); f != "" {
		_ = os.WriteFile(f, []byte(strings.Join(table, "\n")+"\n"), 0o644)
	}
}

// TestParityOneTimeSequences plays the same one-time sequences against
// knockd and knock serve (sniff and listen mode): each sequence opens
// once, the used line gets a "#", and the door is disabled at the end.
func TestParityOneTimeSequences(t *testing.T) {
	lab.Require(t, "knockd", "iptables")
	if testing.Short() {
		t.Skip("-short: lab test")
	}
	l := lab.New(t)
	const body = "# one-time sequences\n 7101,7102,7103\n 7201:udp,7202,7203\n"
	const used = "# one-time sequences\n#7101,7102,7103\n#7201:udp,7202,7203\n"
	file := filepath.Join(l.Dir, "ots")
	conf := "[ots]\n  one_time_sequences = " + file + "\n  command = /usr/bin/mktemp {{DIR}}/mark/ots.XXXXXX\n"
	mark := filepath.Join(l.Dir, "mark")
	opens := func() int {
		m, _ := filepath.Glob(filepath.Join(mark, "ots.*"))
		return len(m)
	}
	play := func(want int, args ...string) int {
		if r := l.Knock(t, args...); r.Code != 0 {
			t.Fatalf("knock %v: %s", args, r.Stderr)
		}
		lab.WaitFor(2*time.Second, func() bool { return opens() >= want })
		time.Sleep(300 * time.Millisecond)
		return opens()
	}
	for _, server := range []string{"knockd", "sniff", "listen"} {
		os.RemoveAll(mark)
		os.MkdirAll(mark, 0o755)
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		var p *lab.Proc
		switch server {
		case "knockd":
			p = l.Knockd(t, conf).Proc
		default:
			p = startServe(t, l, conf, server)
		}
		got := []int{
			play(1, v4, "7101,7102,7103"),
			play(2, v4, "7101,7102,7103"),
			play(2, v4, "7201:udp,7202,7203"),
			play(3, v4, "7201:udp,7202,7203"),
		}
		stopProc(p)
		b, _ := os.ReadFile(file)
		t.Logf("%s: opens after each knock %v; file %q", server, got, b)
		if fmt.Sprint(got) != "[1 1 2 2]" {
			t.Errorf("%s: opens after each knock %v, want [1 1 2 2]\n%s", server, got, p.Output())
		}
		if string(b) != used {
			t.Errorf("%s: file after use %q, want %q", server, b, used)
		}
	}
}

// TestServeGateLab runs knock serve --listen --gate in the server
// namespace and knocks it from the client with --wait on the gate port.
func TestServeGateLab(t *testing.T) {
	lab.Require(t, "socat")
	if testing.Short() {
		t.Skip("-short: lab test")
	}
	l := lab.New(t)
	l.Start(t, l.Server, "socat", "TCP-LISTEN:2200,bind=127.0.0.1,fork,reuseaddr", "SYSTEM:echo hello")
	conf := "[open]\n  sequence = 7101,7102:udp,7103\n  cmd_timeout = 30\n  gate = open\n" +
		"[close]\n  sequence = 7103,7102:udp,7101\n  gate = close\n"
	path := filepath.Join(l.Dir, "gate.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	p := l.Start(t, l.Server, lab.KnockBinary(t), "serve", "--listen", "-c", path, "--gate", ":2222=127.0.0.1:2200")
	if !lab.WaitFor(10*time.Second, func() bool { return strings.Contains(p.Output(), "listening on") || p.Exited() }) || p.Exited() {
		t.Fatalf("knock serve did not start:\n%s", p.Output())
	}
	greet := func() string {
		out, _ := l.Exec(l.Client, "socat", "-T2", "-", "TCP:"+v4+":2222,connect-timeout=2")
		return strings.TrimSpace(out)
	}
	if g := greet(); g == "hello" {
		t.Fatal("gate open before the knock")
	}
	r := l.Knock(t, v4, "7101,7102:udp,7103", "--wait", "2222", "--timeout", "5")
	if r.Code != 0 {
		t.Fatalf("knock --wait 2222: exit %d: %s\n%s", r.Code, r.Stderr, p.Output())
	}
	if g := greet(); g != "hello" {
		t.Fatalf("through the gate: %q\n%s", g, p.Output())
	}
	if r := l.Knock(t, v4, "7103,7102:udp,7101"); r.Code != 0 {
		t.Fatalf("close sequence: %s", r.Stderr)
	}
	if !lab.WaitFor(3*time.Second, func() bool { return strings.Contains(p.Output(), "shuts "+c4+" out") }) {
		t.Fatalf("gate not closed:\n%s", p.Output())
	}
	if g := greet(); g == "hello" {
		t.Fatalf("gate still open after the close sequence\n%s", p.Output())
	}
}
