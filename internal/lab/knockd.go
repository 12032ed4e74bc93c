//go:build linux

package lab

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Knockd is a real knockd running in the server namespace.
type Knockd struct {
	*Proc
	Conf    string // path of the configuration file
	LogFile string // knockd's own LogFile
}

// Knockd writes conf to a file and starts knockd on the server's veth in
// the foreground (-v). It returns once knockd listens. Commands in conf may
// use the lab directory through the placeholder {{DIR}}.
func (l *Lab) Knockd(t testing.TB, conf string) *Knockd {
	t.Helper()
	Require(t, "knockd")
	bin, _ := LookPath("knockd")
	dir, err := os.MkdirTemp(l.Dir, "knockd-")
	if err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(dir, "knockd.log")
	conf = strings.ReplaceAll(conf, "{{DIR}}", l.Dir)
	if !strings.Contains(strings.ToLower(conf), "[options]") {
		conf = "[options]\n  LogFile = " + logFile + "\n\n" + conf
	}
	path := filepath.Join(dir, "knockd.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	p := l.Start(t, l.Server, bin, "-v", "-i", l.ServerIf, "-c", path, "-p", filepath.Join(dir, "knockd.pid"))
	k := &Knockd{Proc: p, Conf: path, LogFile: logFile}
	if !WaitFor(10*time.Second, func() bool {
		return strings.Contains(p.Output(), "listening on") || p.Exited()
	}) || p.Exited() {
		t.Fatalf("lab: knockd did not start:\n%s", p.Output())
	}
	return k
}

// Log returns knockd's verbose output so far.
func (k *Knockd) Log() string { return k.Output() }

// WaitLog waits up to timeout for knockd's output to contain s.
func (k *Knockd) WaitLog(s string, timeout time.Duration) bool {
	return WaitFor(timeout, func() bool { return strings.Contains(k.Output(), s) })
}
