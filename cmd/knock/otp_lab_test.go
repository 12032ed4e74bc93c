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

// End-to-end tests of one-time sequences against the real knockd: the
// door's one_time_sequences file is what `knock otp server-file` prints,
// and `knock NAME` must stay in step with the lines knockd consumes.

const otpGuarded = 2222 // the guarded port of the wait-port door

// otpEnv gives the knock binary its own config directory and no keyring
// or ssh_config of the machine.
func otpEnv(t *testing.T) []string {
	dir := t.TempDir()
	return []string{"HOME=" + dir, "XDG_CONFIG_HOME=" + dir, "XDG_RUNTIME_DIR=" + dir, "DBUS_SESSION_BUS_ADDRESS="}
}

type otpLab struct {
	*lab.Lab
	t   *testing.T
	env []string
	kd  *lab.Knockd
}

// knock runs the knock binary in the client namespace with the test's
// config directory.
func (o *otpLab) knock(args ...string) lab.Result {
	o.t.Helper()
	return o.RunIn(o.t, o.Client, o.env, lab.KnockBinary(o.t), args...)
}

func (o *otpLab) mustKnock(args ...string) lab.Result {
	o.t.Helper()
	r := o.knock(args...)
	if r.Code != 0 {
		o.t.Fatalf("knock %s: exit %d\nstdout: %s\nstderr: %s\nknockd:\n%s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr, o.kdLog())
	}
	return r
}

func (o *otpLab) kdLog() string {
	if o.kd == nil {
		return ""
	}
	return o.kd.Log()
}

// counter reads the counter from `knock otp status`.
func (o *otpLab) counter(name string) int {
	o.t.Helper()
	out := o.mustKnock("otp", "status", name).Stdout
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "counter" {
			n, err := strconv.Atoi(f[1])
			if err == nil {
				return n
			}
		}
	}
	o.t.Fatalf("no counter in knock otp status:\n%s", out)
	return 0
}

// serverFile writes `knock otp server-file` output to the lab directory.
func (o *otpLab) serverFile(name string, count int) (path string, lines []string) {
	o.t.Helper()
	out := o.mustKnock("otp", "server-file", name, "--count", strconv.Itoa(count)).Stdout
	path = filepath.Join(o.Dir, name+".seqs")
	if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
		o.t.Fatal(err)
	}
	return path, strings.Split(strings.TrimSuffix(out, "\n"), "\n")
}

// marked reads the door's file and reports which lines knockd marked used,
// checking that it changed nothing but the first character of each line.
func (o *otpLab) marked(path string, orig []string) []bool {
	o.t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		o.t.Fatal(err)
	}
	cur := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(cur) != len(orig) {
		o.t.Fatalf("knockd's file has %d lines, want %d:\n%s", len(cur), len(orig), b)
	}
	used := make([]bool, len(cur))
	for i := range cur {
		if cur[i][1:] != orig[i][1:] || (cur[i][0] != ' ' && cur[i][0] != '#') {
			o.t.Fatalf("line %d changed beyond its first character: %q, was %q", i, cur[i], orig[i])
		}
		used[i] = cur[i][0] == '#'
	}
	return used
}

// opens counts the door's start commands run so far.
func (o *otpLab) opens(door string) int {
	b, _ := os.ReadFile(filepath.Join(o.Dir, door+".opened"))
	return strings.Count(string(b), "\n")
}

// guardedOpen reports whether knockd's ACCEPT rule for the client exists.
func (o *otpLab) guardedOpen() bool {
	_, err := o.Exec(o.Server, "iptables", "-C", "INPUT", "-s", lab.ClientIP4.String(), "-p", "tcp", "--dport", strconv.Itoa(otpGuarded), "-j", "ACCEPT")
	return err == nil
}

// waitClosed waits for the stop command to remove the ACCEPT rule, so that
// the next knock has to open the door itself.
func (o *otpLab) waitClosed() {
	o.t.Helper()
	if !lab.WaitFor(10*time.Second, func() bool { return !o.guardedOpen() }) {
		o.t.Fatalf("the door did not close; knockd:\n%s", o.kdLog())
	}
}

// wantUsed checks that knockd marked exactly the first n lines, giving it
// a moment: it marks a line just after starting the door's command.
func (o *otpLab) wantUsed(path string, orig []string, n int) {
	o.t.Helper()
	ok := func(used []bool) bool {
		for i, u := range used {
			if u != (i < n) {
				return false
			}
		}
		return true
	}
	lab.WaitFor(3*time.Second, func() bool { return ok(o.marked(path, orig)) })
	if used := o.marked(path, orig); !ok(used) {
		o.t.Fatalf("knockd marked lines %v, want the first %d; knockd:\n%s", used, n, o.kdLog())
	}
}

func otpDoor(name, file, extra string) string {
	return "[" + name + "]\n" +
		"  one_time_sequences = " + file + "\n" +
		"  seq_timeout = 10\n" +
		"  tcpflags = syn\n" + extra
}

// TestLabOTPKnockd plays one-time sequences against the real knockd: each
// knock opens, knockd marks exactly the used lines, a replayed line opens
// nothing (knockd's own client), a lost packet is retried with the same
// line, a door that opened unseen is resynced, and the next knock is still
// in step. A second door without a wait port advances on send.
func TestLabOTPKnockd(t *testing.T) {
	lab.Require(t, "knockd", "knock", "iptables")
	l := lab.New(t)
	o := &otpLab{Lab: l, t: t, env: otpEnv(t)}
	srv := lab.ServerIP4.String()

	o.mustKnock("otp", "init", "vpn", "--host", srv, "--wait", strconv.Itoa(otpGuarded),
		"--length", "4", "--ports", "20000-29999", "--tcp-flags", "syn", "--store", "file")
	o.mustKnock("otp", "init", "blind", "--host", srv, "--length", "5", "--ports", "30000-39999",
		"--proto", "mixed", "--store", "file")
	vpnFile, vpnLines := o.serverFile("vpn", 8)
	blindFile, blindLines := o.serverFile("blind", 4)
	for _, line := range append(vpnLines, blindLines...) {
		if !strings.HasPrefix(line, " ") || strings.HasPrefix(line, "  ") {
			t.Fatalf("server-file line %q does not start with exactly one space", line)
		}
	}

	guard := strconv.Itoa(otpGuarded)
	l.MustExec(t, l.Server, "iptables", "-A", "INPUT", "-p", "tcp", "--dport", guard, "-j", "DROP")
	l.ListenTCP(t, l.Server, srv+":"+guard)
	rule := "INPUT -s %IP% -p tcp --dport " + guard + " -j ACCEPT"
	o.kd = l.Knockd(t, otpDoor("vpn", vpnFile,
		"  start_command = echo %IP% >> {{DIR}}/vpn.opened && /usr/sbin/iptables -I "+rule+"\n"+
			"  cmd_timeout = 1\n"+
			"  stop_command = /usr/sbin/iptables -D "+rule+"\n")+
		otpDoor("blind", blindFile, "  command = echo %IP% >> {{DIR}}/blind.opened\n"))

	// Consecutive knocks each open, with the next line each time.
	for i := 0; i < 3; i++ {
		r := o.mustKnock("-v", "vpn")
		if !strings.Contains(r.Stderr, "playing one-time sequence "+strconv.Itoa(i)+" ") {
			t.Fatalf("knock %d did not play sequence %d:\n%s", i, i, r.Stderr)
		}
		if got := o.counter("vpn"); got != i+1 {
			t.Fatalf("after knock %d the counter is %d, want %d", i, got, i+1)
		}
		if got := o.opens("vpn"); got != i+1 {
			t.Fatalf("after knock %d knockd opened %d times, want %d; knockd:\n%s", i, got, i+1, o.kdLog())
		}
		o.wantUsed(vpnFile, vpnLines, i+1)
		o.waitClosed()
	}

	// Replaying a used line with knockd's own client opens nothing.
	kbin, _ := lab.LookPath("knock")
	used := strings.Split(strings.TrimSpace(vpnLines[2]), ",")
	if out, err := l.Exec(l.Client, kbin, append([]string{srv}, used...)...); err != nil {
		t.Fatalf("%s: %v: %s", kbin, err, out)
	}
	time.Sleep(1500 * time.Millisecond)
	if o.opens("vpn") != 3 || o.guardedOpen() {
		t.Fatalf("a replayed sequence opened the door; knockd:\n%s", o.kdLog())
	}
	o.wantUsed(vpnFile, vpnLines, 3)

	// The next knock is still in step.
	o.mustKnock("vpn")
	if o.counter("vpn") != 4 || o.opens("vpn") != 4 {
		t.Fatalf("knock after the replay: counter %d, opens %d, want 4 and 4; knockd:\n%s", o.counter("vpn"), o.opens("vpn"), o.kdLog())
	}
	o.wantUsed(vpnFile, vpnLines, 4)
	o.waitClosed()

	// A lost packet: the client drops its first SYN to the last port of
	// line 4. The door stays closed, knock retries the same line (still
	// the valid one), the door opens and the counter moves by one.
	line4 := strings.Split(strings.TrimSpace(vpnLines[4]), ",")
	last := strings.TrimSuffix(line4[len(line4)-1], ":tcp")
	if out, err := l.Exec(l.Client, "iptables", "-I", "OUTPUT", "-p", "tcp", "--dport", last,
		"-m", "quota", "--quota", "100", "-j", "DROP"); err != nil {
		t.Fatalf("iptables quota rule: %v: %s", err, out)
	}
	r := o.mustKnock("-v", "vpn")
	if !strings.Contains(r.Stderr, "not open yet, playing again") {
		t.Errorf("no retry after the lost packet:\n%s", r.Stderr)
	}
	if o.counter("vpn") != 5 || o.opens("vpn") != 5 {
		t.Fatalf("after a retried knock: counter %d, opens %d, want 5 and 5; knockd:\n%s", o.counter("vpn"), o.opens("vpn"), o.kdLog())
	}
	o.wantUsed(vpnFile, vpnLines, 5)
	o.waitClosed()

	// The door opens but the client cannot see it (a wrong wait port):
	// knockd consumed line 5, the counter stays, knock says how to resync.
	r = o.knock("vpn", "--wait", "2223", "--timeout", "2", "--retries", "0")
	if r.Code != 1 || !strings.Contains(r.Stderr, "knock otp resync vpn --counter 6") {
		t.Fatalf("unverified knock: exit %d, want 1 and a resync hint:\n%s", r.Code, r.Stderr)
	}
	if o.counter("vpn") != 5 || o.opens("vpn") != 6 {
		t.Fatalf("unverified knock: counter %d, opens %d, want 5 and 6", o.counter("vpn"), o.opens("vpn"))
	}
	o.waitClosed()
	// Out of step, line 5 is a used line: it opens nothing.
	if r := o.knock("vpn", "--timeout", "2", "--retries", "1"); r.Code != 1 || o.opens("vpn") != 6 {
		t.Fatalf("out of step: exit %d, opens %d, want 1 and 6:\n%s", r.Code, o.opens("vpn"), r.Stderr)
	}
	o.mustKnock("otp", "resync", "vpn", "--counter", "6")
	o.mustKnock("vpn")
	if o.counter("vpn") != 7 || o.opens("vpn") != 7 {
		t.Fatalf("after resync: counter %d, opens %d, want 7 and 7", o.counter("vpn"), o.opens("vpn"))
	}
	o.wantUsed(vpnFile, vpnLines, 7)

	// Without a wait port the counter moves once the sequence is sent.
	for i := 0; i < 2; i++ {
		o.mustKnock("blind")
		if !lab.WaitFor(3*time.Second, func() bool { return o.opens("blind") == i+1 }) {
			t.Fatalf("blind knock %d did not open; knockd:\n%s", i, o.kdLog())
		}
		if got := o.counter("blind"); got != i+1 {
			t.Fatalf("blind counter %d, want %d", got, i+1)
		}
	}
	o.wantUsed(blindFile, blindLines, 2)
}
