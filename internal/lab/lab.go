//go:build linux

package lab

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Addresses of the two lab hosts (documentation prefixes).
var (
	ClientIP4 = netip.MustParseAddr("198.51.100.1")
	ServerIP4 = netip.MustParseAddr("198.51.100.2")
	ClientIP6 = netip.MustParseAddr("2001:db8::1")
	ServerIP6 = netip.MustParseAddr("2001:db8::2")
)

// Lab is one pair of namespaces, with a third between them in a WAN lab
// (see NewWAN).
type Lab struct {
	ID       string
	Client   string // client namespace name
	Server   string // server namespace name
	Mid      string // namespace of the WAN emulator; empty in a plain lab
	ClientIf string // veth in the client namespace
	ServerIf string // veth in the server namespace
	Dir      string // scratch directory, removed at cleanup

	mu    sync.Mutex
	procs []*Proc
}

// InCI reports whether the tests run in CI, where they must never skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// Require checks that the test runs as root and that every tool is
// installed. In CI a missing prerequisite fails the test; elsewhere the
// test is skipped.
func Require(t testing.TB, tools ...string) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, tool := range tools {
		if _, err := LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	if InCI() {
		t.Fatalf("lab prerequisites missing in CI: %s (the test command installs them)", strings.Join(missing, ", "))
	}
	t.Skipf("lab prerequisites missing: %s (not in CI, so skipping; run ./test.sh as root)", strings.Join(missing, ", "))
}

// LookPath finds a tool in PATH or in the sbin directories that a
// non-login root shell may lack.
func LookPath(tool string) (string, error) {
	if p, err := exec.LookPath(tool); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(dir, tool)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", tool)
}

// New creates a lab whose names are unique to this run. Cleanup is
// registered on t.
func New(t testing.TB) *Lab {
	t.Helper()
	return newLab(t, false)
}

// newLab creates the namespaces and links of a lab. With mid, a third
// namespace sits between client and server: each end's veth is paired with
// one in the middle (MidIf), where the WAN emulator forwards frames between
// the two; nothing else crosses, as the middle namespace does not route.
func newLab(t testing.TB, mid bool) *Lab {
	t.Helper()
	Require(t, "ip")
	id := randomID()
	l := &Lab{
		ID:       id,
		Client:   "knc-" + id,
		Server:   "kns-" + id,
		ClientIf: "vc" + id,
		ServerIf: "vs" + id,
		Dir:      t.TempDir(),
	}
	if mid {
		l.Mid = "knm-" + id
	}
	t.Cleanup(l.teardown)
	steps := [][]string{
		{"netns", "add", l.Client},
		{"netns", "add", l.Server},
	}
	if mid {
		mc, ms := midIfs(l)
		steps = append(steps,
			[]string{"netns", "add", l.Mid},
			[]string{"link", "add", l.ClientIf, "type", "veth", "peer", "name", mc},
			[]string{"link", "add", ms, "type", "veth", "peer", "name", l.ServerIf},
			[]string{"link", "set", mc, "netns", l.Mid},
			[]string{"link", "set", ms, "netns", l.Mid},
		)
	} else {
		steps = append(steps, []string{"link", "add", l.ClientIf, "type", "veth", "peer", "name", l.ServerIf})
	}
	steps = append(steps, [][]string{
		{"link", "set", l.ClientIf, "netns", l.Client},
		{"link", "set", l.ServerIf, "netns", l.Server},
		{"-n", l.Client, "addr", "add", ClientIP4.String() + "/24", "dev", l.ClientIf},
		{"-n", l.Server, "addr", "add", ServerIP4.String() + "/24", "dev", l.ServerIf},
		{"-n", l.Client, "-6", "addr", "add", ClientIP6.String() + "/64", "dev", l.ClientIf, "nodad"},
		{"-n", l.Server, "-6", "addr", "add", ServerIP6.String() + "/64", "dev", l.ServerIf, "nodad"},
		{"-n", l.Client, "link", "set", "lo", "up"},
		{"-n", l.Server, "link", "set", "lo", "up"},
		{"-n", l.Client, "link", "set", l.ClientIf, "up"},
		{"-n", l.Server, "link", "set", l.ServerIf, "up"},
	}...)
	for _, s := range steps {
		if out, err := run("ip", s...); err != nil {
			t.Fatalf("lab: ip %s: %v: %s", strings.Join(s, " "), err, out)
		}
	}
	if mid {
		if err := prepareMid(l); err != nil {
			t.Fatalf("lab: %v", err)
		}
	}
	// The links need a moment before IPv6 neighbour discovery works.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		out, _ := run("ip", "-n", l.Client, "-6", "addr", "show", "dev", l.ClientIf)
		if !strings.Contains(out, "tentative") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return l
}

func randomID() string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported systems
	}
	return hex.EncodeToString(b)
}

func run(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}

// stateEnv keeps what knock learns about hosts (its history: round
// trips, rounds to close) in the lab's directory, so that labs and runs
// do not share it.
func (l *Lab) stateEnv() []string {
	return []string{"XDG_STATE_HOME=" + filepath.Join(l.Dir, "state"), "XDG_CACHE_HOME=" + filepath.Join(l.Dir, "cache")}
}

// Exec runs a command in namespace ns and returns its combined output.
func (l *Lab) Exec(ns string, name string, args ...string) (string, error) {
	return run("ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

// MustExec is Exec that fails the test on error.
func (l *Lab) MustExec(t testing.TB, ns string, name string, args ...string) string {
	t.Helper()
	out, err := l.Exec(ns, name, args...)
	if err != nil {
		t.Fatalf("lab: %s %s in %s: %v: %s", name, strings.Join(args, " "), ns, err, out)
	}
	return out
}

// Proc is a background process started in a namespace.
type Proc struct {
	Cmd     *exec.Cmd
	LogPath string // stdout and stderr
	done    chan struct{}
	err     error
}

// Output returns what the process has written so far.
func (p *Proc) Output() string {
	b, _ := os.ReadFile(p.LogPath)
	return string(b)
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits up to timeout for the process to end and returns its error.
func (p *Proc) Wait(timeout time.Duration) (error, bool) {
	select {
	case <-p.done:
		return p.err, true
	case <-time.After(timeout):
		return nil, false
	}
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) error { return p.Cmd.Process.Signal(sig) }

// Start starts a command in namespace ns in its own process group, with
// output to a log file in the lab directory. It is killed at cleanup.
func (l *Lab) Start(t testing.TB, ns string, name string, args ...string) *Proc {
	t.Helper()
	return l.StartCmd(t, ns, exec.Command(name, args...))
}

// StartCmd is Start for a prepared command, whose Env, Dir, Stdin and
// ExtraFiles are kept; its Path and Args are run inside ns.
func (l *Lab) StartCmd(t testing.TB, ns string, c *exec.Cmd) *Proc {
	t.Helper()
	if c.Env == nil {
		c.Env = os.Environ()
	}
	// The lab's state first: the caller's own settings, later, win.
	c.Env = append(l.stateEnv(), c.Env...)
	ip, _ := LookPath("ip")
	log, err := os.CreateTemp(l.Dir, filepath.Base(c.Path)+"-*.log")
	if err != nil {
		t.Fatal(err)
	}
	c.Args = append([]string{ip, "netns", "exec", ns, c.Path}, c.Args[1:]...)
	c.Path = ip
	if c.Stdout == nil {
		c.Stdout = log
	}
	if c.Stderr == nil {
		c.Stderr = log
	}
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.Start(); err != nil {
		log.Close()
		t.Fatalf("lab: start %s: %v", strings.Join(c.Args, " "), err)
	}
	p := &Proc{Cmd: c, LogPath: log.Name(), done: make(chan struct{})}
	go func() {
		p.err = c.Wait()
		log.Close()
		close(p.done)
	}()
	l.mu.Lock()
	l.procs = append(l.procs, p)
	l.mu.Unlock()
	return p
}

// teardown kills every process of the lab and deletes the namespaces.
func (l *Lab) teardown() {
	l.mu.Lock()
	procs := l.procs
	l.mu.Unlock()
	for _, p := range procs {
		if !p.Exited() {
			_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
		}
		p.Wait(5 * time.Second)
	}
	for _, ns := range []string{l.Client, l.Server, l.Mid} {
		if ns == "" {
			continue
		}
		// Processes started in the namespace by others (daemons forking,
		// commands run by knockd) die with it.
		out, _ := run("ip", "netns", "pids", ns)
		for _, f := range strings.Fields(out) {
			var pid int
			if _, err := fmt.Sscan(f, &pid); err == nil && pid > 1 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		_, _ = run("ip", "netns", "del", ns)
	}
}

// WaitFor polls cond every 10 ms until it holds or timeout passes.
func WaitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ModuleRoot returns the directory holding go.mod, found upward from the
// working directory of the test.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		dir = filepath.Dir(dir)
	}
	t.Fatal("lab: go.mod not found above the working directory")
	return ""
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// KnockBinary builds ./cmd/knock once per test process and returns its path.
func KnockBinary(t testing.TB) string {
	t.Helper()
	root := ModuleRoot(t)
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "knock-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "knock")
		c := exec.Command("go", "build", "-o", binPath, "./cmd/knock")
		c.Dir = root
		c.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := c.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// Result is the outcome of a command run to completion.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Knock runs the knock binary in the client namespace with args.
func (l *Lab) Knock(t testing.TB, args ...string) Result {
	t.Helper()
	return l.RunIn(t, l.Client, nil, KnockBinary(t), args...)
}

// RunIn runs a command in namespace ns with extra environment entries and
// a 2-minute limit, and returns its output and exit code.
func (l *Lab) RunIn(t testing.TB, ns string, env []string, name string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ip, _ := LookPath("ip")
	c := exec.CommandContext(ctx, ip, append([]string{"netns", "exec", ns, name}, args...)...)
	c.Env = append(append(os.Environ(), l.stateEnv()...), env...)
	var so, se bytes.Buffer
	c.Stdout, c.Stderr = &so, &se
	err := c.Run()
	r := Result{Stdout: so.String(), Stderr: se.String()}
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			r.Code = ee.ExitCode()
		} else {
			t.Fatalf("lab: run %s: %v", name, err)
		}
	}
	return r
}
