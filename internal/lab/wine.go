//go:build linux

package lab

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The Windows lab runs Windows builds of knock under wine, inside the
// client namespace, against the real daemons of the server namespace.

// processPrngSource is the C source of the bcryptprimitives.dll shim.
//
//go:embed testdata/processprng.c
var processPrngSource []byte

// WineTools are the programs the Windows lab needs besides wine64 itself
// (see [WineLoader]): Debian's wine, wine64 and gcc-mingw-w64-x86-64.
var WineTools = []string{"wineboot", "wineserver", "x86_64-w64-mingw32-gcc"}

// wineLoaders are where distributions put the 64-bit loader; Debian keeps
// it out of PATH.
var wineLoaders = []string{"/usr/lib/wine/wine64", "/usr/lib64/wine/wine64", "/opt/wine-stable/bin/wine64"}

// WineLoader returns the path of the 64-bit wine loader.
func WineLoader() (string, error) {
	if p, err := exec.LookPath("wine64"); err == nil {
		return p, nil
	}
	for _, p := range wineLoaders {
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("wine64 not found in PATH nor in %s", strings.Join(wineLoaders, ", "))
}

// RequireWine is [Require] for the Windows lab: root, [WineTools] and the
// wine64 loader. In CI a missing piece fails the test.
func RequireWine(t testing.TB) {
	t.Helper()
	Require(t, WineTools...)
	if _, err := WineLoader(); err != nil {
		if InCI() {
			t.Fatalf("lab prerequisites missing in CI: %v (the test command installs wine64)", err)
		}
		t.Skipf("lab prerequisites missing: %v (not in CI, so skipping; run ./test.sh as root)", err)
	}
}

// Wine is a throwaway Windows environment in a lab's client namespace: a
// fresh WINEPREFIX with the ProcessPrng shim in its system32, and a
// persistent wineserver started in the client namespace. Wine opens every
// socket of a Windows program in wineserver, so they all live there.
type Wine struct {
	Prefix string // WINEPREFIX (a Unix path)
	Loader string // wine64

	lab *Lab
	env []string
	srv *Proc
}

// Wine boots a fresh prefix for l (slow: about ten seconds) and returns
// once Windows programs run in it. At cleanup it stops wineserver (which
// saves the registry) before the lab kills what is left in its namespaces.
func (l *Lab) Wine(t testing.TB) *Wine {
	t.Helper()
	RequireWine(t)
	loader, _ := WineLoader()
	dll := wineShim(t)
	w := &Wine{Prefix: filepath.Join(l.Dir, "wineprefix"), Loader: loader, lab: l}
	tmp := filepath.Join(l.Dir, "winetmp")
	for _, d := range []string{w.Prefix, tmp} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	w.env = []string{
		"WINEPREFIX=" + w.Prefix,
		// wineserver's socket directory (wine-XXXXXX) goes here, not in
		// /tmp, and goes away with the lab.
		"TMPDIR=" + tmp,
		"WINEARCH=win64",
		"WINEDEBUG=-all",
		// No Mono or Gecko installers, no desktop menu entries.
		"WINEDLLOVERRIDES=mscoree,mshtml=;winemenubuilder.exe=d",
	}
	server, _ := LookPath("wineserver")
	c := exec.Command(server, "--foreground", "--persistent")
	c.Env = w.Environ()
	w.srv = l.StartCmd(t, l.Client, c)
	t.Cleanup(w.stop)

	boot, _ := LookPath("wineboot")
	if r := w.runIn(t, nil, 3*time.Minute, boot, "--init"); r.Code != 0 {
		t.Fatalf("lab: wineboot: exit %d\n%s%s\nwineserver:\n%s", r.Code, r.Stdout, r.Stderr, w.srv.Output())
	}
	sys32 := filepath.Join(w.Prefix, "drive_c", "windows", "system32")
	if err := os.WriteFile(filepath.Join(sys32, "bcryptprimitives.dll"), dll, 0o644); err != nil {
		t.Fatal(err)
	}
	return w
}

// stop ends wineserver and, with it, every wine process of the prefix.
func (w *Wine) stop() {
	if w.srv.Exited() {
		return
	}
	server, _ := LookPath("wineserver")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	ip, _ := LookPath("ip")
	c := exec.CommandContext(ctx, ip, "netns", "exec", w.lab.Client, server, "--kill")
	c.Env = w.Environ()
	_ = c.Run()
	if _, done := w.srv.Wait(10 * time.Second); !done {
		_ = syscall.Kill(-w.srv.Cmd.Process.Pid, syscall.SIGKILL)
	}
}

// Environ returns the environment for wine programs: this process's
// without a display (wine stays headless), plus WINEPREFIX and friends.
func (w *Wine) Environ() []string {
	var env []string
	for _, e := range os.Environ() {
		k, _, _ := strings.Cut(e, "=")
		switch k {
		case "DISPLAY", "WAYLAND_DISPLAY", "WINEPREFIX", "WINEDEBUG", "WINEARCH", "WINEDLLOVERRIDES", "TMPDIR":
			continue
		}
		env = append(env, e)
	}
	return append(env, w.env...)
}

// Run runs a Windows program (a Unix path or a Windows path) with args
// under wine in the client namespace, with extra environment entries and
// a 2-minute limit.
func (w *Wine) Run(t testing.TB, env []string, exe string, args ...string) Result {
	t.Helper()
	return w.runIn(t, env, 2*time.Minute, w.Loader, append([]string{exe}, args...)...)
}

func (w *Wine) runIn(t testing.TB, env []string, limit time.Duration, name string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	ip, _ := LookPath("ip")
	c := exec.CommandContext(ctx, ip, append([]string{"netns", "exec", w.lab.Client, name}, args...)...)
	c.Env = append(w.Environ(), env...)
	// Files, not pipes: wine's own processes (services.exe, winedevice.exe
	// ...) outlive the program and may hold on to its output.
	so, err := os.CreateTemp(w.lab.Dir, "wine-stdout-*")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(so.Name())
	defer so.Close()
	se, err := os.CreateTemp(w.lab.Dir, "wine-stderr-*")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(se.Name())
	defer se.Close()
	c.Stdout, c.Stderr = so, se
	// Its own process group, so that a run that hangs is killed whole.
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	c.WaitDelay = 5 * time.Second
	err = c.Run()
	sob, _ := os.ReadFile(so.Name())
	seb, _ := os.ReadFile(se.Name())
	r := Result{Stdout: string(sob), Stderr: string(seb)}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok || ctx.Err() != nil {
			t.Fatalf("lab: wine %s %s: %v\n%s%s", name, strings.Join(args, " "), err, r.Stdout, r.Stderr)
		}
		r.Code = ee.ExitCode()
	}
	return r
}

// UserDir returns the Unix path of the Windows user's profile directory
// (%USERPROFILE%) in the prefix.
func (w *Wine) UserDir(t testing.TB) string {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(w.Prefix, "drive_c", "users", "*"))
	for _, d := range dirs {
		if filepath.Base(d) != "Public" {
			return d
		}
	}
	t.Fatalf("lab: no user profile in %s", w.Prefix)
	return ""
}

// AppData returns the Unix path of %APPDATA% in the prefix.
func (w *Wine) AppData(t testing.TB) string {
	t.Helper()
	return filepath.Join(w.UserDir(t), "AppData", "Roaming")
}

// WinPath returns the Windows path under which wine shows the Unix path
// p: drive Z: is the Unix root.
func WinPath(p string) string {
	return `Z:` + strings.ReplaceAll(p, "/", `\`)
}

var (
	shimOnce sync.Once
	shimDLL  []byte
	shimErr  error
)

// wineShim builds bcryptprimitives.dll from processprng.c once per test
// process.
func wineShim(t testing.TB) []byte {
	t.Helper()
	shimOnce.Do(func() {
		dir, err := os.MkdirTemp("", "knock-wineshim-")
		if err != nil {
			shimErr = err
			return
		}
		defer os.RemoveAll(dir)
		src := filepath.Join(dir, "processprng.c")
		dll := filepath.Join(dir, "bcryptprimitives.dll")
		if err := os.WriteFile(src, processPrngSource, 0o600); err != nil {
			shimErr = err
			return
		}
		gcc, _ := LookPath("x86_64-w64-mingw32-gcc")
		if out, err := exec.Command(gcc, "-O2", "-shared", "-s", "-o", dll, src, "-ladvapi32").CombinedOutput(); err != nil {
			shimErr = fmt.Errorf("build the ProcessPrng shim: %v: %s", err, out)
			return
		}
		shimDLL, shimErr = os.ReadFile(dll)
	})
	if shimErr != nil {
		t.Fatal(shimErr)
	}
	return shimDLL
}

var (
	winMu   sync.Mutex
	winBins = map[string]string{}
)

// WindowsBinary builds the main package pkg (relative to the module root,
// "./cmd/knock") for windows/amd64 without cgo and returns the path of the
// .exe. It builds once per test process while the test that asked first
// runs; the binary goes away with that test.
func WindowsBinary(t testing.TB, pkg string) string {
	t.Helper()
	return windowsBuild(t, pkg, "build")
}

// WindowsTestBinary is [WindowsBinary] for the test binary of pkg (go test
// -c), to run a package's portable tests under wine.
func WindowsTestBinary(t testing.TB, pkg string) string {
	t.Helper()
	return windowsBuild(t, pkg, "test")
}

func windowsBuild(t testing.TB, pkg, verb string) string {
	t.Helper()
	root := ModuleRoot(t)
	winMu.Lock()
	defer winMu.Unlock()
	key := verb + " " + pkg
	if p, ok := winBins[key]; ok {
		return p
	}
	dir := t.TempDir()
	t.Cleanup(func() {
		winMu.Lock()
		delete(winBins, key)
		winMu.Unlock()
	})
	exe := filepath.Join(dir, filepath.Base(pkg)+".exe")
	// -trimpath as in the cross builds of test.sh, to share their cache.
	args := []string{"build", "-trimpath", "-o", exe, pkg}
	if verb == "test" {
		exe = filepath.Join(dir, filepath.Base(pkg)+".test.exe")
		args = []string{"test", "-c", "-trimpath", "-o", exe, pkg}
	}
	c := exec.Command("go", args...)
	c.Dir = root
	c.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("lab: go %s %s for windows: %v: %s", verb, pkg, err, out)
	}
	winBins[key] = exe
	return exe
}
