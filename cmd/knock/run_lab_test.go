//go:build linux

package main

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/a-knock/knock/internal/lab"
)

// End-to-end tests of knock run and knock forward against the real
// knockd, with the seed's firewall guarding the real sshd: the service
// must be reachable through the door, and the door closed after every way
// out.

// TestLabRun: the command runs with the door open and its facts in the
// environment, its exit code comes back, and the door closes.
func TestLabRun(t *testing.T) {
	t.Parallel()
	s := newSSHLab(t)
	bash := lookTool(t, "bash")
	script := `echo "name=$KNOCK_NAME addr=$KNOCK_ADDR port=$KNOCK_PORT"; exec 3<>/dev/tcp/$KNOCK_ADDR/$KNOCK_PORT || exit 9; head -c 7 <&3; echo; exit 3`
	r := s.knock("run", "lab4", "--", bash, "-c", script)
	if r.Code != 3 {
		t.Fatalf("knock run: exit %d, want the command's 3\nstdout: %s\nstderr: %s\nknockd:\n%s", r.Code, r.Stdout, r.Stderr, s.kd.Log())
	}
	want := "name=lab4 addr=" + lab.ServerIP4.String() + " port=22\nSSH-2.0"
	if !strings.Contains(r.Stdout, want) {
		t.Fatalf("stdout %q, want %q (the service reached through the door)", r.Stdout, want)
	}
	if r.Stderr != "" {
		t.Errorf("stderr %q", r.Stderr)
	}
	s.requireClosed()

	// A command that cannot start is bad usage, and knocks nothing.
	before := strings.Count(s.kd.Log(), "openSSH: OPEN SESAME")
	if r := s.knock("run", "lab4", "--", "no-such-command-knock"); r.Code != exitUsage || strings.Count(r.Stderr, "\n") != 1 || !strings.Contains(r.Stderr, "no-such-command-knock") {
		t.Fatalf("missing command: exit %d, stderr %q", r.Code, r.Stderr)
	}
	if strings.Count(s.kd.Log(), "openSSH: OPEN SESAME") != before {
		t.Fatal("knocked for a command that does not exist")
	}
}

// TestLabRunSignals: SIGTERM, SIGINT and SIGHUP to knock run are passed on
// to the command, and the door closes.
func TestLabRunSignals(t *testing.T) {
	t.Parallel()
	s := newSSHLab(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			s.t = t
			p := s.startKnock("run", "lab4", "--", "sh", "-c", "echo started; exec sleep 60")
			if !lab.WaitFor(30*time.Second, func() bool { return strings.Contains(p.Output(), "started") || p.Exited() }) || p.Exited() {
				t.Fatalf("command did not start:\n%s\nknockd:\n%s", p.Output(), s.kd.Log())
			}
			s.requireOpen()
			if err := p.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if _, done := p.Wait(30 * time.Second); !done {
				t.Fatalf("knock run still running after %s:\n%s", sig, p.Output())
			}
			if ws, ok := p.Cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				t.Fatalf("knock was killed by %s instead of closing:\n%s", ws.Signal(), p.Output())
			}
			// sleep died of the signal: a shell reports 128+N.
			if code := p.Cmd.ProcessState.ExitCode(); code != 128+int(sig) {
				t.Errorf("exit %d, want %d", code, 128+int(sig))
			}
			s.requireClosed()
		})
	}
}

// banner connects from namespace ns to addr and reads the ssh server's
// first line.
func banner(ns, addr string) (string, error) {
	var line string
	err := lab.InNamespace(ns, func() error {
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(15 * time.Second))
		line, err = bufio.NewReader(c).ReadString('\n')
		return err
	})
	return strings.TrimSpace(line), err
}

// TestLabForward: twenty connections at once through knock forward all
// reach sshd behind the door, which knockd opened once; after the last
// one and the linger the door is closed; the next connection knocks again
// and gets through; SIGINT closes the door and ends knock forward with 0.
func TestLabForward(t *testing.T) {
	t.Parallel()
	s := newSSHLab(t)
	const local = "127.0.0.1:10022"
	p := s.startKnock("forward", "lab4", "--linger", "1", "10022:22")
	opens := func() int { return strings.Count(s.kd.Log(), "openSSH: OPEN SESAME") }
	if !lab.WaitFor(10*time.Second, func() bool { return strings.Contains(p.Output(), "door closed") || p.Exited() }) || p.Exited() {
		t.Fatalf("knock forward did not start:\n%s", p.Output())
	}
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := banner(s.Client, local)
			if err == nil && !strings.HasPrefix(b, "SSH-2.0") {
				err = fmt.Errorf("banner %q", b)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a connection through the forward: %v\nknock forward:\n%s\nknockd:\n%s", err, p.Output(), s.kd.Log())
		}
	}
	if n := opens(); n != 1 {
		t.Fatalf("knockd opened %d times for 20 connections, want 1:\n%s", n, s.kd.Log())
	}
	// The last connection ended: after the linger (1 s) the door closes.
	s.requireClosed()
	if b, err := banner(s.Client, local); err != nil || !strings.HasPrefix(b, "SSH-2.0") {
		t.Fatalf("a connection after the close: %q %v\n%s", b, err, p.Output())
	}
	if n := opens(); n != 2 {
		t.Fatalf("knockd opened %d times, want 2 (a knock after the close)", n)
	}
	if err := p.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if _, done := p.Wait(30 * time.Second); !done {
		t.Fatalf("knock forward still running after SIGINT:\n%s", p.Output())
	}
	if code := p.Cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("knock forward exited %d after SIGINT, want 0:\n%s", code, p.Output())
	}
	s.requireClosed()
	if !strings.Contains(p.Output(), "21 conn(s)") {
		t.Errorf("the status lines do not count 21 connections:\n%s", p.Output())
	}
}
