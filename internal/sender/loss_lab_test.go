//go:build linux

package sender

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/a-knock/knock/internal/lab"
)

// envListen makes the test binary a plain TCP listener (the guarded
// service behind the lab's door), so the lab needs no extra tool.
const envListen = "KNOCK_SENDER_TEST_LISTEN"

func TestMain(m *testing.M) {
	if addr := os.Getenv(envListen); addr != "" {
		listenForever(addr)
		return
	}
	os.Exit(m.Run())
}

func listenForever(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			os.Exit(1)
		}
		c.Close()
	}
}

// TestLabRetryUnderLoss knocks the real knockd through a client firewall
// that drops 25% of the knock packets at random. A single shot then opens
// the door 42% of the time (0.75^3); `knock --wait` with its default
// retries must open it almost always. Each trial knocks from a fresh
// source address, so knockd holds no state for it and the door (whose
// ACCEPT names the source) starts closed. It asserts the success rate
// only, never a time.
func TestLabRetryUnderLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: lab test: 60 knocks through a lossy link")
	}
	lab.Require(t, "knockd", "iptables")
	l := lab.New(t)
	srv := lab.ServerIP4.String()
	l.MustExec(t, l.Server, "iptables", "-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "DROP")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ln := l.StartCmd(t, l.Server, cmdWithEnv(self, envListen+"="+srv+":22"))
	ipt, _ := lab.LookPath("iptables")
	l.Knockd(t, "[door]\n  sequence = 7000,7001,7002\n  seq_timeout = 10\n  tcpflags = syn\n"+
		"  command = "+ipt+" -I INPUT -s %IP% -p tcp --dport 22 -j ACCEPT\n")
	for _, proto := range []string{"tcp", "udp"} {
		l.MustExec(t, l.Client, "iptables", "-A", "OUTPUT", "-p", proto, "--dport", "7000:7002",
			"-m", "statistic", "--mode", "random", "--probability", "0.25", "-j", "DROP")
	}
	const trials = 60
	ok := 0
	var failures []string
	for i := 0; i < trials; i++ {
		src := fmt.Sprintf("198.51.100.%d", 10+i)
		l.MustExec(t, l.Client, "ip", "addr", "add", src+"/32", "dev", l.ClientIf)
		l.MustExec(t, l.Client, "ip", "route", "replace", srv+"/32", "dev", l.ClientIf, "src", src)
		r := l.Knock(t, srv, "7000", "7001", "7002", "--wait", "22")
		if r.Code == 0 {
			ok++
		} else {
			failures = append(failures, src+": "+strings.TrimSpace(r.Stderr))
		}
		if ln.Exited() {
			t.Fatalf("the listener behind the door died:\n%s", ln.Output())
		}
	}
	t.Logf("%d of %d knocks opened the door under 25%% loss", ok, trials)
	// Thirteen rounds (the default --retries 12) succeed with probability
	// about 99.9% (nine, 99.3%); 57 of 60 leaves room for chance (a false alarm
	// about once in a thousand runs), while no retry (42%) or a broken one
	// fails.
	if ok < 57 {
		t.Fatalf("only %d of %d knocks opened the door:\n%s", ok, trials, strings.Join(failures, "\n"))
	}
}

func cmdWithEnv(name string, env ...string) *exec.Cmd {
	c := exec.Command(name)
	c.Env = append(os.Environ(), env...)
	return c
}
