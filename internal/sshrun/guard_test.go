//go:build unix

package sshrun

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the program under test: with
// SSHRUN_HELPER set it runs a Guard around a shell child and reports on
// stdout when the child is ready and when the cleanup ran.
func TestMain(m *testing.M) {
	if mode := os.Getenv("SSHRUN_HELPER"); mode != "" {
		os.Exit(helper(mode))
	}
	os.Exit(m.Run())
}

func helper(mode string) int {
	g := New(func() {
		// Slow on purpose: a second signal must not cut it short.
		time.Sleep(200 * time.Millisecond)
		fmt.Println("cleanup")
	})
	defer g.Close()
	var script string
	switch mode {
	case "sleep":
		script = "echo ready; exec sleep 30"
	case "exit3":
		script = "echo ready; exit 3"
	case "missing":
		c := exec.Command("/nonexistent/ssh")
		_, err := g.Run(c)
		fmt.Println("start error:", err != nil)
		g.Close()
		return 1
	}
	c := exec.Command("sh", "-c", script)
	code, err := g.Run(c)
	if err != nil {
		fmt.Println("error:", err)
	}
	g.Close()
	fmt.Println("code", code)
	return code
}

func startHelper(t *testing.T, mode string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	c := exec.Command(os.Args[0], "-test.run=^$")
	c.Env = append(os.Environ(), "SSHRUN_HELPER="+mode)
	out, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.Stderr = os.Stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
	return c, bufio.NewScanner(out)
}

func readAll(sc *bufio.Scanner) []string {
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

func TestSshrunSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT} {
		t.Run(sig.String(), func(t *testing.T) {
			c, sc := startHelper(t, "sleep")
			if !sc.Scan() || sc.Text() != "ready" {
				t.Fatalf("helper did not start: %q", sc.Text())
			}
			if err := c.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			// A second signal during the cleanup must not kill the helper.
			time.Sleep(50 * time.Millisecond)
			_ = c.Process.Signal(sig)
			lines := readAll(sc)
			err := c.Wait()
			want := []string{"cleanup", fmt.Sprintf("code %d", 128+int(sig))}
			if strings.Join(lines, "|") != strings.Join(want, "|") {
				t.Fatalf("output %q, want %q", lines, want)
			}
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 128+int(sig) {
				t.Fatalf("helper exit: %v, want code %d", err, 128+int(sig))
			}
		})
	}
}

func TestSshrunExitCode(t *testing.T) {
	c, sc := startHelper(t, "exit3")
	lines := readAll(sc)
	err := c.Wait()
	if strings.Join(lines, "|") != "ready|cleanup|code 3" {
		t.Fatalf("output %q", lines)
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Fatalf("exit: %v", err)
	}
}

func TestSshrunStartFailure(t *testing.T) {
	c, sc := startHelper(t, "missing")
	lines := readAll(sc)
	_ = c.Wait()
	if strings.Join(lines, "|") != "start error: true|cleanup" {
		t.Fatalf("output %q", lines)
	}
}

func TestSshrunSignalBeforeRun(t *testing.T) {
	ran := 0
	g := New(func() { ran++ })
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	select {
	case <-g.Context().Done():
	case <-time.After(10 * time.Second):
		t.Fatal("context not cancelled by SIGHUP")
	}
	if g.Signal() != syscall.SIGHUP {
		t.Fatalf("signal %v", g.Signal())
	}
	if _, err := g.Run(exec.Command("true")); err == nil {
		t.Fatal("Run after a signal started the child")
	}
	g.Close()
	g.Close()
	if ran != 1 {
		t.Fatalf("cleanup ran %d times", ran)
	}
}
