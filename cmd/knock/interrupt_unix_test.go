//go:build unix

package main

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestInterruptExits130 runs knock (this test binary, as TestMain maps
// it) until it is busy, sends it a signal and checks the documented exit:
// code 130 and one error line. Busy means a datagram of its first knock
// arrived: it is then waiting for the port (--wait), or pacing to the next
// knock (-d). It needs no root: everything goes to loopback.
func TestInterruptExits130(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sig     syscall.Signal
		profile bool // add profile "door": knock udp/knock, close udp/knock
		args    func(knock, closed int) []string
	}{
		{"wait/SIGINT", syscall.SIGINT, false, func(k, c int) []string {
			return []string{"-u", "127.0.0.1", strconv.Itoa(k), "--wait", strconv.Itoa(c), "--timeout", "30", "--retries", "100"}
		}},
		{"wait/SIGTERM", syscall.SIGTERM, false, func(k, c int) []string {
			return []string{"-u", "127.0.0.1", strconv.Itoa(k), "--wait", strconv.Itoa(c), "--timeout", "30", "--retries", "100"}
		}},
		{"delay/SIGINT", syscall.SIGINT, false, func(k, c int) []string {
			return []string{"-u", "-d", "600000", "127.0.0.1", strconv.Itoa(k) + "," + strconv.Itoa(k)}
		}},
		{"profile/SIGINT", syscall.SIGINT, true, func(k, c int) []string {
			return []string{"door", "--wait", strconv.Itoa(c), "--timeout", "30", "--retries", "100"}
		}},
		{"proxy/SIGINT", syscall.SIGINT, true, func(k, c int) []string {
			return []string{"proxy", "door", strconv.Itoa(c), "--timeout", "30", "--retries", "100"}
		}},
		{"ssh/SIGINT", syscall.SIGINT, true, func(k, c int) []string {
			return []string{"ssh", "--wait", strconv.Itoa(c), "--timeout", "30", "--retries", "100", "door"}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pc, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer pc.Close()
			knockPort := pc.LocalAddr().(*net.UDPAddr).Port
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			closed := l.Addr().(*net.TCPAddr).Port
			l.Close()

			// A private home, an empty ssh_config and an ssh that
			// answers no ssh -G (knock ssh asks it before knocking).
			home := t.TempDir()
			sshConfig := filepath.Join(home, "ssh_config")
			sshStub := filepath.Join(home, "ssh")
			if err := os.WriteFile(sshConfig, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(sshStub, []byte("#!/bin/sh\nexit 1\n"), 0o700); err != nil {
				t.Fatal(err)
			}
			env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + home, "DBUS_SESSION_BUS_ADDRESS=",
				"KNOCK_SSH_CONFIG=" + sshConfig, "PATH=" + home, "GORACE=" + goRace()}
			if tc.profile {
				k := strconv.Itoa(knockPort) + ":udp"
				add := scriptKnock(t, "profile", "add", "door", "--host", "127.0.0.1", "--open", k, "--close", k, "--store", "file")
				add.Env = env
				if out, err := add.CombinedOutput(); err != nil {
					t.Fatalf("profile add: %v: %s", err, out)
				}
			}
			cmd := scriptKnock(t, tc.args(knockPort, closed)...)
			cmd.Env = env
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			defer func() {
				_ = cmd.Process.Kill()
				<-done
			}()

			_ = pc.SetReadDeadline(time.Now().Add(20 * time.Second))
			arrived := make(chan error, 1)
			go func() {
				_, _, err := pc.ReadFrom(make([]byte, 2048))
				arrived <- err
			}()
			select {
			case err := <-arrived:
				if err != nil {
					t.Fatalf("no knock arrived: %v", err)
				}
			case err := <-done:
				done <- err
				t.Fatalf("knock ended before its first knock arrived: %v; stderr: %s", err, stderr.String())
			}
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			var werr error
			select {
			case werr = <-done:
				done <- werr // for the deferred cleanup
			case <-time.After(20 * time.Second):
				t.Fatalf("knock did not end within 20s of %v", tc.sig)
			}
			var ee *exec.ExitError
			if !errors.As(werr, &ee) || ee.ExitCode() != exitInterrupted {
				t.Errorf("knock after %v: %v (exit code %d), want exit code %d", tc.sig, werr, cmd.ProcessState.ExitCode(), exitInterrupted)
			}
			lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "knock: error: ") {
				t.Errorf("stderr = %q, want one knock: error: line", stderr.String())
			}
			t.Logf("stderr: %s", stderr.String())
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
		})
	}
}

// scriptKnock is the command TestMain maps: this test binary run as
// knock, for Go tests that need a process of their own.
func scriptKnock(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return &exec.Cmd{Path: self, Args: append([]string{"knock"}, args...)}
}
