//go:build linux

package lab

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	dbus "github.com/godbus/dbus/v5"
)

// Keyring is a private freedesktop Secret Service for a test: its own
// D-Bus session bus (a unix socket path, reachable from the lab's network
// namespaces) and gnome-keyring-daemon with an unlocked login keyring,
// under a temporary HOME.
type Keyring struct {
	Home string   // the temporary HOME
	Env  []string // HOME, XDG_*, DBUS_SESSION_BUS_ADDRESS for child processes
	Bus  string   // the bus address

	procs []*exec.Cmd
}

// StartKeyring starts dbus-daemon and gnome-keyring-daemon (unlocking the
// login keyring with an empty password fed on stdin) and waits until a
// secret can be stored. Both are killed, with whatever they started, at
// cleanup.
func StartKeyring(t testing.TB) *Keyring {
	t.Helper()
	Require(t, "dbus-daemon", "gnome-keyring-daemon", "secret-tool")
	dir := t.TempDir()
	k := &Keyring{Home: filepath.Join(dir, "home")}
	run := filepath.Join(dir, "run")
	for _, d := range []string{k.Home, run} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	k.Bus = "unix:path=" + filepath.Join(dir, "bus")
	k.Env = []string{
		"HOME=" + k.Home,
		"XDG_CONFIG_HOME=" + filepath.Join(k.Home, ".config"),
		"XDG_DATA_HOME=" + filepath.Join(k.Home, ".local", "share"),
		"XDG_CACHE_HOME=" + filepath.Join(k.Home, ".cache"),
		"XDG_RUNTIME_DIR=" + run,
		"DBUS_SESSION_BUS_ADDRESS=" + k.Bus,
		"DISPLAY=",
		"WAYLAND_DISPLAY=",
	}
	t.Cleanup(k.stop)

	bus, _ := LookPath("dbus-daemon")
	k.start(t, filepath.Join(dir, "dbus.log"), nil, bus, "--session", "--address="+k.Bus, "--nofork", "--nopidfile")
	if !WaitFor(10*time.Second, func() bool { _, err := os.Stat(filepath.Join(dir, "bus")); return err == nil }) {
		t.Fatalf("lab: dbus-daemon did not create its socket")
	}
	gk, _ := LookPath("gnome-keyring-daemon")
	k.start(t, filepath.Join(dir, "gnome-keyring.log"), strings.NewReader("\n"), gk, "--foreground", "--unlock", "--components=secrets")
	var last string
	if !WaitFor(10*time.Second, func() bool {
		out, err := k.SecretTool("probe-secret", "store", "--label=knock lab probe", "knock-lab", "probe")
		last = out
		return err == nil
	}) {
		logs, _ := os.ReadFile(filepath.Join(dir, "gnome-keyring.log"))
		t.Fatalf("lab: secret service not ready: %s\n%s", last, logs)
	}
	_, _ = k.SecretTool("", "clear", "knock-lab", "probe")
	return k
}

func (k *Keyring) start(t testing.TB, logPath string, stdin *strings.Reader, name string, args ...string) {
	t.Helper()
	log, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	c := exec.Command(name, args...)
	c.Env = append(os.Environ(), k.Env...)
	c.Stdout, c.Stderr = log, log
	if stdin != nil {
		c.Stdin = stdin
	}
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.Start(); err != nil {
		log.Close()
		t.Fatalf("lab: start %s: %v", name, err)
	}
	k.procs = append(k.procs, c)
	go func() { _ = c.Wait(); log.Close() }()
}

// SecretTool runs secret-tool against this keyring with stdin and
// returns its combined output.
func (k *Keyring) SecretTool(stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, "secret-tool", args...)
	c.Env = append(os.Environ(), k.Env...)
	c.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	err := c.Run()
	if err != nil {
		return out.String(), fmt.Errorf("secret-tool %s: %w: %s", strings.Join(args, " "), err, out.String())
	}
	return out.String(), nil
}

// stop kills both daemons and every process they started (same process
// group), newest first.
func (k *Keyring) stop() {
	for i := len(k.procs) - 1; i >= 0; i-- {
		c := k.procs[i]
		if c.Process != nil {
			_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		}
	}
	time.Sleep(50 * time.Millisecond)
}

// Lock locks the login collection, as a screen lock or a logout would;
// reading a secret then needs an unlock prompt, which cannot be shown.
func (k *Keyring) Lock(t testing.TB) {
	t.Helper()
	conn, err := dbus.Connect(k.Bus)
	if err != nil {
		t.Fatalf("lab: connect to %s: %v", k.Bus, err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var locked []dbus.ObjectPath
	var prompt dbus.ObjectPath
	err = conn.Object("org.freedesktop.secrets", "/org/freedesktop/secrets").CallWithContext(ctx,
		"org.freedesktop.Secret.Service.Lock", 0, []dbus.ObjectPath{"/org/freedesktop/secrets/collection/login"}).Store(&locked, &prompt)
	if err != nil || len(locked) != 1 {
		t.Fatalf("lab: lock the login keyring: %v (locked %v, prompt %s)", err, locked, prompt)
	}
}
