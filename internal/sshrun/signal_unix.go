//go:build unix

package sshrun

import (
	"os"
	"os/exec"
	"syscall"
)

// caught are the signals a Guard catches. SIGPIPE is caught only so that a
// write to a closed stdout or stderr cannot kill the process before the
// cleanup: it is neither forwarded nor a reason to stop.
var caught = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGPIPE}

func ignoredOnly(s os.Signal) bool { return s == syscall.SIGPIPE }

func forward(p *os.Process, s os.Signal) { _ = p.Signal(s) }

func signalName(s os.Signal) string {
	if n, ok := s.(syscall.Signal); ok {
		switch n {
		case syscall.SIGINT:
			return "SIGINT"
		case syscall.SIGTERM:
			return "SIGTERM"
		case syscall.SIGHUP:
			return "SIGHUP"
		case syscall.SIGQUIT:
			return "SIGQUIT"
		}
	}
	return s.String()
}

func exitCode(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// installConsoleHandler has nothing to do outside Windows: the signals
// above cover a closing terminal (SIGHUP).
func installConsoleHandler(func()) func() { return nil }

// lookSSH finds the ssh client in PATH.
func lookSSH() (string, error) { return exec.LookPath("ssh") }
