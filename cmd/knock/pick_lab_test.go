//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/a-knock/knock/internal/lab"
)

// pickTerm drives `knock pick` in a real terminal: tmux, started inside the
// client namespace, so the knocks reach the lab's knockd.
type pickTerm struct {
	t      *testing.T
	l      *lab.Lab
	socket string
}

func (p *pickTerm) tmux(args ...string) string {
	p.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", p.socket}, args...)...).CombinedOutput()
	if err != nil {
		p.t.Fatalf("tmux %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (p *pickTerm) screen() string { return p.tmux("capture-pane", "-p", "-t", "pick") }

func (p *pickTerm) waitScreen(what string, timeout time.Duration) bool {
	return lab.WaitFor(timeout, func() bool { return strings.Contains(p.screen(), what) })
}

func TestLabPickTmux(t *testing.T) {
	t.Parallel()
	lab.Require(t, "knockd", "tmux")
	l := lab.New(t)
	kd := l.Knockd(t, senderDoor("pick", "7951,7952:udp,7953", "seq_timeout = 10"))
	l.ListenTCP(t, l.Server, "0.0.0.0:22") // the port k verifies (ssh_config's, 22)

	home := t.TempDir()
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_STATE_HOME=" + filepath.Join(home, ".state"), "DBUS_SESSION_BUS_ADDRESS=", "NO_COLOR=1", "TERM=xterm-256color"}
	// Several thousand ssh_config hosts, and the lab host among them.
	var cfg strings.Builder
	for i := 0; i < 4000; i++ {
		fmt.Fprintf(&cfg, "Host host-%04d\n  HostName 203.0.113.%d\n", i, i%250+1)
	}
	fmt.Fprintf(&cfg, "Host labhost\n  HostName %s\n", lab.ServerIP4)
	os.MkdirAll(filepath.Join(home, ".ssh"), 0o700)
	if err := os.WriteFile(filepath.Join(home, ".ssh", "config"), []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := lab.KnockBinary(t)
	r := l.RunIn(t, l.Client, env, bin, "profile", "add", "labhost", "--store", "file", "--open", "7951,7952:udp,7953", "--wait-port", "0")
	if r.Code != 0 {
		r = l.RunIn(t, l.Client, env, bin, "profile", "add", "labhost", "--store", "file", "--open", "7951,7952:udp,7953")
	}
	if r.Code != 0 {
		t.Fatalf("profile add: %d %s", r.Code, r.Stderr)
	}

	p := &pickTerm{t: t, l: l, socket: filepath.Join(t.TempDir(), "tmux.sock")}
	ip, _ := lab.LookPath("ip")
	shell := fmt.Sprintf("env %s %s netns exec %s %s pick --timeout 5; echo EXIT=$?; sleep 60",
		strings.Join(env, " "), ip, l.Client, bin)
	p.tmux("new-session", "-d", "-s", "pick", "-x", "120", "-y", "30", shell)
	t.Cleanup(func() { exec.Command("tmux", "-S", p.socket, "kill-server").Run() })

	if !p.waitScreen("4001 hosts", 10*time.Second) {
		t.Fatalf("no first frame with 4001 hosts:\n%s", p.screen())
	}
	if strings.Contains(p.screen(), "7951") {
		t.Fatal("the picker shows a sequence")
	}
	p.tmux("send-keys", "-t", "pick", "/", "labh")
	if !p.waitScreen("4000 filtered", 5*time.Second) {
		t.Fatalf("the filter did not narrow the list:\n%s", p.screen())
	}
	p.tmux("send-keys", "-t", "pick", "Enter") // apply the filter
	if !p.waitScreen("4000 filtered", 5*time.Second) {
		t.Fatalf("enter dropped the filter:\n%s", p.screen())
	}
	p.tmux("send-keys", "-t", "pick", "k") // knock only
	if !senderWaitOpened(l, "pick", lab.ClientIP4.String()) {
		t.Fatalf("k did not open the lab door:\n%s\nknockd:\n%s", p.screen(), kd.Log())
	}
	if !p.waitScreen("✓ labhost", 5*time.Second) {
		t.Fatalf("no success line:\n%s", p.screen())
	}
	p.tmux("send-keys", "-t", "pick", "q")
	if !p.waitScreen("EXIT=130", 5*time.Second) {
		t.Fatalf("q did not leave with 130:\n%s", p.screen())
	}
}

// TestLabPickEnterSSH: Enter in the picker knocks the real knockd, hands
// the terminal to the real ssh, and the close sequence follows when the
// session ends.
func TestLabPickEnterSSH(t *testing.T) {
	t.Parallel()
	lab.Require(t, "tmux")
	s := newSSHLab(t)
	p := &pickTerm{t: t, l: s.Lab, socket: filepath.Join(t.TempDir(), "tmux.sock")}
	ip, _ := lab.LookPath("ip")
	env := append([]string{"TERM=xterm-256color", "NO_COLOR=1"}, s.env...)
	shell := fmt.Sprintf("env %s %s netns exec %s %s pick; echo EXIT=$?; sleep 60",
		strings.Join(env, " "), ip, s.Client, lab.KnockBinary(t))
	p.tmux("new-session", "-d", "-s", "pick", "-x", "120", "-y", "30", shell)
	t.Cleanup(func() { exec.Command("tmux", "-S", p.socket, "kill-server").Run() })

	if !p.waitScreen("lab4", 10*time.Second) {
		t.Fatalf("no first frame:\n%s", p.screen())
	}
	p.tmux("send-keys", "-t", "pick", "/", "lab4")
	p.tmux("send-keys", "-t", "pick", "Enter") // apply the filter
	if !p.waitScreen("1 host", 5*time.Second) {
		t.Fatalf("the filter did not narrow the list:\n%s", p.screen())
	}
	p.tmux("send-keys", "-t", "pick", "Enter") // knock, then ssh
	// The remote shell is up once it echoes a command back.
	if !lab.WaitFor(20*time.Second, func() bool {
		p.tmux("send-keys", "-t", "pick", "echo PICK-$((6*7))", "Enter")
		return lab.WaitFor(time.Second, func() bool { return strings.Contains(p.screen(), "PICK-42") })
	}) {
		t.Fatalf("no ssh session after enter:\n%s\nknockd:\n%s", p.screen(), s.kd.Log())
	}
	p.tmux("send-keys", "-t", "pick", "exit", "Enter")
	if !p.waitScreen("EXIT=0", 10*time.Second) {
		t.Fatalf("knock pick did not end with ssh's exit code 0:\n%s", p.screen())
	}
	s.requireClosed()
}

// TestLabPickWaitPortLikeSSH: a profile whose wait port (8443) differs
// from its ssh port (22). knock ssh NAME and the picker's Enter wait on
// the same port, the profile's: both probe 8443, whose SYN counter the
// server keeps, then run the real ssh, and close the door after.
func TestLabPickWaitPortLikeSSH(t *testing.T) {
	t.Parallel()
	lab.Require(t, "knockd", "sshd", "ssh", "iptables", "ip6tables", "tmux")
	l := lab.New(t)
	l.SeedFirewall(t)
	s := &sshLab{Lab: l, t: t, sshd: l.Sshd(t)}
	ipt, _ := lab.LookPath("iptables")
	rule := "INPUT -s %IP% -p tcp -m multiport --dports 22,8443 -j ACCEPT"
	s.kd = l.Knockd(t, fmt.Sprintf("[openSSH]\n  sequence = %s\n  seq_timeout = 5\n  tcpflags = syn\n  command = %s -I %s\n"+
		"[closeSSH]\n  sequence = %s\n  seq_timeout = 5\n  tcpflags = syn\n  command = %s -D %s\n",
		sshOpenSeq, lab.Firewall("iptables"), rule, sshCloseSeq, lab.Firewall("iptables"), rule))
	l.ListenTCP(t, l.Server, lab.ServerIP4.String()+":8443")
	l.MustExec(t, l.Server, ipt, "-w", "-A", "INPUT", "-p", "tcp", "--dport", "8443", "-j", "DROP")
	// Counts the SYNs to 8443, whatever the later rules do with them: a
	// jump to an empty chain, which returns at once.
	l.MustExec(t, l.Server, ipt, "-w", "-N", "PROBES")
	l.MustExec(t, l.Server, ipt, "-w", "-I", "INPUT", "1", "-p", "tcp", "--dport", "8443", "--syn", "-j", "PROBES")
	syns := func() int {
		out := l.MustExec(t, l.Server, ipt, "-w", "-L", "INPUT", "-v", "-x", "-n")
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) > 2 && f[2] == "PROBES" {
				n, _ := strconv.Atoi(f[0])
				return n
			}
		}
		t.Fatalf("no PROBES rule in:\n%s", out)
		return 0
	}
	dir := t.TempDir()
	s.env = []string{"HOME=" + dir, "XDG_CONFIG_HOME=" + dir, "XDG_STATE_HOME=" + dir, "XDG_RUNTIME_DIR=" + dir,
		"DBUS_SESSION_BUS_ADDRESS=", "KNOCK_SSH_CONFIG=" + s.sshd.ClientConf}
	s.mustKnock("profile", "add", "lab4", "--open", sshOpenSeq, "--close", sshCloseSeq, "--wait-port", "8443", "--store", "file")

	r := s.mustKnock("-v", "ssh", "lab4", "--", "echo", "SSH-OK")
	if !strings.Contains(r.Stdout, "SSH-OK") || !strings.Contains(r.Stderr, "port 8443 on "+lab.ServerIP4.String()+" open") {
		t.Fatalf("knock ssh did not wait on 8443:\nstdout: %s\nstderr: %s", r.Stdout, r.Stderr)
	}
	afterSSH := syns()
	if afterSSH == 0 {
		t.Fatal("knock ssh sent no probe to the wait port 8443")
	}
	s.requireClosed()

	p := &pickTerm{t: t, l: l, socket: filepath.Join(t.TempDir(), "tmux.sock")}
	ip, _ := lab.LookPath("ip")
	env := append([]string{"TERM=xterm-256color", "NO_COLOR=1"}, s.env...)
	shell := fmt.Sprintf("env %s %s netns exec %s %s pick; echo EXIT=$?; sleep 60",
		strings.Join(env, " "), ip, l.Client, lab.KnockBinary(t))
	p.tmux("new-session", "-d", "-s", "pick", "-x", "120", "-y", "30", shell)
	t.Cleanup(func() { exec.Command("tmux", "-S", p.socket, "kill-server").Run() })
	if !p.waitScreen("lab4", 10*time.Second) {
		t.Fatalf("no first frame:\n%s", p.screen())
	}
	p.tmux("send-keys", "-t", "pick", "/", "lab4")
	p.tmux("send-keys", "-t", "pick", "Enter")
	if !p.waitScreen("1 host", 5*time.Second) {
		t.Fatalf("the filter did not narrow the list:\n%s", p.screen())
	}
	p.tmux("send-keys", "-t", "pick", "Enter") // knock, then ssh
	if !lab.WaitFor(20*time.Second, func() bool {
		p.tmux("send-keys", "-t", "pick", "echo PICK-$((6*7))", "Enter")
		return lab.WaitFor(time.Second, func() bool { return strings.Contains(p.screen(), "PICK-42") })
	}) {
		t.Fatalf("no ssh session after enter:\n%s\nknockd:\n%s", p.screen(), s.kd.Log())
	}
	if syns() <= afterSSH {
		t.Fatalf("the picker's Enter sent no probe to the wait port 8443 (knock ssh did)")
	}
	p.tmux("send-keys", "-t", "pick", "exit", "Enter")
	if !p.waitScreen("EXIT=0", 10*time.Second) {
		t.Fatalf("knock pick did not end with ssh's exit code 0:\n%s", p.screen())
	}
	s.requireClosed()
}
