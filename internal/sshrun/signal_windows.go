//go:build windows

package sshrun

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"

	"golang.org/x/sys/windows"
)

// caught are the signals a Guard catches. The Go runtime reports Ctrl+C
// and Ctrl+Break as os.Interrupt and closing the console, logoff and
// shutdown as SIGTERM.
var caught = []os.Signal{os.Interrupt, syscall.SIGTERM}

func ignoredOnly(os.Signal) bool { return false }

// forward does nothing: console control events reach every process
// attached to the console, ssh.exe included, and Windows has no other
// signals to send.
func forward(*os.Process, os.Signal) {}

func signalName(s os.Signal) string {
	if s == os.Interrupt {
		return "Ctrl+C"
	}
	return "console close"
}

func exitCode(ps *os.ProcessState) int { return ps.ExitCode() }

// Console control events (wincon.h).
const (
	ctrlCloseEvent    = 2
	ctrlLogoffEvent   = 5
	ctrlShutdownEvent = 6
)

var (
	procSetConsoleCtrlHandler = windows.NewLazySystemDLL("kernel32.dll").NewProc("SetConsoleCtrlHandler")

	handlerOnce sync.Once
	handlerPtr  uintptr

	handlerMu sync.Mutex
	onClose   []*func()
)

// installConsoleHandler registers a console control handler that, when
// the console window closes or the user logs off, runs cleanup before it
// returns: Windows ends the process as soon as the handler returns, so
// the cleanup must be done by then. Ctrl+C and Ctrl+Break go on to the Go
// runtime's handler, which reports them as os.Interrupt.
func installConsoleHandler(cleanup func()) func() {
	handlerOnce.Do(func() {
		handlerPtr = windows.NewCallback(consoleHandler)
		if err := procSetConsoleCtrlHandler.Find(); err == nil {
			_, _, _ = procSetConsoleCtrlHandler.Call(handlerPtr, 1)
		}
	})
	f := &cleanup
	handlerMu.Lock()
	onClose = append(onClose, f)
	handlerMu.Unlock()
	return func() {
		handlerMu.Lock()
		defer handlerMu.Unlock()
		for i, g := range onClose {
			if g == f {
				onClose = append(onClose[:i], onClose[i+1:]...)
				break
			}
		}
	}
}

func consoleHandler(event uint32) uintptr {
	switch event {
	case ctrlCloseEvent, ctrlLogoffEvent, ctrlShutdownEvent:
	default:
		return 0 // not handled: the next handler (Go's) reports it
	}
	handlerMu.Lock()
	fs := append([]*func(){}, onClose...)
	handlerMu.Unlock()
	if len(fs) == 0 {
		return 0
	}
	for _, f := range fs {
		(*f)()
	}
	return 1
}

// lookSSH finds OpenSSH's ssh.exe: in PATH, else where Windows installs
// the OpenSSH client feature.
func lookSSH() (string, error) {
	p, err := exec.LookPath("ssh")
	if err == nil {
		return p, nil
	}
	if root := os.Getenv("SystemRoot"); root != "" {
		c := filepath.Join(root, "System32", "OpenSSH", "ssh.exe")
		if st, serr := os.Stat(c); serr == nil && !st.IsDir() {
			return c, nil
		}
	}
	return "", err
}
