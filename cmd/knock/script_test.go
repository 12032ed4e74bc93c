package main

// CLI behaviour as testscript scripts: testdata/*.txtar. TestMain maps
// the command "knock" to run, so a script's `exec knock ...` runs this
// test binary as knock (FiloSottile/age does the same). Each script gets
// a private home: profiles go to the 0600 file store (no D-Bus, so no
// keyring), ssh_config is an empty file unless the script names its own.

import (
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/spf13/cobra"

	"github.com/a-knock/knock/internal/gen"
	"github.com/a-knock/knock/internal/seq"
)

var updateScripts = flag.Bool("update", false, "rewrite the expected files of failing cmp lines in testdata/*.txtar")

// TestMain maps the command "knock" to run: this test binary, started
// under the name knock (the copy in the scripts' PATH, or scriptKnock),
// is knock. testscript.Main would do the same but also put its copy first
// in the PATH of every test of the package, where the lab tests look for
// knockd's own knock client.
func TestMain(m *testing.M) {
	if strings.TrimSuffix(filepath.Base(os.Args[0]), ".exe") == "knock" {
		os.Exit(run(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func TestScript(t *testing.T) {
	bin := scriptBin(t)
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata",
		Setup:               func(e *testscript.Env) error { return scriptSetup(e, bin) },
		Cmds:                scriptCmds(),
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		UpdateScripts:       *updateScripts,
	})
}

// scriptBin returns a directory that holds this test binary as knock,
// and nothing else.
func scriptBin(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	knock := filepath.Join(dir, "knock")
	if runtime.GOOS == "windows" {
		knock += ".exe"
	}
	if os.Link(self, knock) == nil {
		return dir
	}
	src, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(knock, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// scriptSetup gives the script a private, clean environment under $WORK,
// with knock (in bin) first in PATH.
func scriptSetup(e *testscript.Env, bin string) error {
	home := filepath.Join(e.WorkDir, "home")
	sshConfig := filepath.Join(home, ".ssh", "config")
	if err := os.MkdirAll(filepath.Dir(sshConfig), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(sshConfig, nil, 0o600); err != nil {
		return err
	}
	config := filepath.Join(home, ".config")
	appData := filepath.Join(home, "AppData", "Roaming")
	vars := map[string]string{
		"HOME":            home,
		"USERPROFILE":     home, // os.UserHomeDir on Windows
		"APPDATA":         appData,
		"LOCALAPPDATA":    filepath.Join(home, "AppData", "Local"),
		"XDG_CONFIG_HOME": config,
		"XDG_STATE_HOME":  filepath.Join(home, ".local", "state"),
		"XDG_CACHE_HOME":  filepath.Join(home, ".cache"),
		// No session bus: the keyring is unavailable, profiles go to the
		// file store.
		"DBUS_SESSION_BUS_ADDRESS": "",
		"XDG_RUNTIME_DIR":          "",
		"KNOCK_SSH_CONFIG":         sshConfig,
		"NO_COLOR":                 "1",
		envSPAKey:                  "",
		envSPAHMACKey:              "",
	}
	// PROFILES is the file store's file (os.UserConfigDir()/knock).
	switch runtime.GOOS {
	case "windows":
		vars["PROFILES"] = filepath.Join(appData, "knock", "profiles.json")
	case "darwin", "ios":
		vars["PROFILES"] = filepath.Join(home, "Library", "Application Support", "knock", "profiles.json")
	default:
		vars["PROFILES"] = filepath.Join(config, "knock", "profiles.json")
	}
	vars["GORACE"] = goRace()
	// KNOCKDIR holds knock and nothing else: PATH=$KNOCKDIR hides ssh.
	vars["KNOCKDIR"] = bin
	vars["PATH"] = bin + string(filepath.ListSeparator) + e.Getenv("PATH")
	for k, v := range vars {
		e.Setenv(k, v)
	}
	e.Values[scriptStateKey{}] = &scriptState{udp: map[string]net.PacketConn{}, ports: map[int]bool{}}
	return nil
}

// goRace is $GORACE for knock processes: a race-enabled binary sleeps a
// second on exit unless told otherwise, which would make the scripts,
// with their hundreds of knock runs, take minutes under go test -race.
func goRace() string {
	g := os.Getenv("GORACE")
	if strings.Contains(g, "atexit_sleep_ms") {
		return g
	}
	return strings.TrimSpace(g + " atexit_sleep_ms=10")
}

type scriptStateKey struct{}

// scriptState holds what a script's custom commands opened.
type scriptState struct {
	udp   map[string]net.PacketConn
	ports map[int]bool // given out by closedport
}

func state(ts *testscript.TestScript) *scriptState {
	return ts.Value(scriptStateKey{}).(*scriptState)
}

// scriptCmds are the custom commands of the scripts.
func scriptCmds() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	cmds := map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"exits":      cmdExits,
		"errline":    cmdErrline,
		"mode":       cmdMode,
		"noleak":     cmdNoleak,
		"repeat":     cmdRepeat,
		"envsubst":   cmdEnvsubst,
		"concat":     cmdConcat,
		"tcplisten":  cmdTCPListen,
		"closedport": cmdClosedPort,
		"udplisten":  cmdUDPListen,
		"udprecv":    cmdUDPRecv,
		"generated":  cmdGenerated,
		"tcpecho":    cmdTCPEcho,
		"waitfile":   cmdWaitfile,
	}
	addOSCmds(cmds)
	return cmds
}

// exits CODE PROG [ARGS...] runs PROG as exec does and checks that it
// exits with CODE; stdout and stderr are kept for the next commands.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE PROG [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("%s: %v", args[1], err)
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}

// errline TEXT checks that stderr is exactly one line, "knock: error: ",
// that contains TEXT (a plain string, not a regexp), and no control
// character (no usage dump, no terminal escape).
func cmdErrline(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: errline TEXT")
	}
	stderr := ts.ReadFile("stderr")
	line, ok := strings.CutSuffix(stderr, "\n")
	switch {
	case !ok || strings.Contains(line, "\n"):
		ts.Fatalf("stderr is not exactly one line: %q", stderr)
	case !strings.HasPrefix(line, "knock: error: "):
		ts.Fatalf("stderr is not a knock: error: line: %q", stderr)
	case strings.ContainsFunc(line, func(r rune) bool { return r < ' ' || r == 0x7f }):
		ts.Fatalf("stderr has a control character: %q", stderr)
	case !strings.Contains(line, args[0]):
		ts.Fatalf("stderr %q does not contain %q", line, args[0])
	}
}

// noleak VAR... checks that the value of no VAR (a secret) shows in the
// last command's stdout or stderr.
func cmdNoleak(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: noleak VAR...")
	}
	for _, name := range args {
		secret := ts.Getenv(name)
		if secret == "" {
			ts.Fatalf("$%s is empty", name)
		}
		for _, out := range []string{"stdout", "stderr"} {
			if strings.Contains(ts.ReadFile(out), secret) {
				ts.Fatalf("$%s leaked into %s", name, out)
			}
		}
	}
}

// mode FILE PERM checks a file's permission bits (octal), where they
// mean something.
func cmdMode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: mode FILE PERM")
	}
	want, err := strconv.ParseUint(args[1], 8, 32)
	ts.Check(err)
	st, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	if runtime.GOOS == "windows" {
		return // mode bits do not protect files on Windows
	}
	if got := st.Mode().Perm(); got != os.FileMode(want) {
		ts.Fatalf("%s has mode %#o, want %#o", args[0], got, want)
	}
}

// repeat NAME STRING COUNT sets $NAME to COUNT copies of STRING.
func cmdRepeat(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: repeat NAME STRING COUNT")
	}
	n, err := strconv.Atoi(args[2])
	ts.Check(err)
	ts.Setenv(args[0], strings.Repeat(args[1], n))
}

// envsubst SRC DST writes SRC to DST with $VAR and ${VAR} expanded.
func cmdEnvsubst(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: envsubst SRC DST")
	}
	s := os.Expand(ts.ReadFile(args[0]), ts.Getenv)
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(s), 0o600))
}

// concat DST SRC... writes the SRC files (stdout and stderr name the last
// command's output) one after the other to DST.
func cmdConcat(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: concat DST SRC...")
	}
	var b strings.Builder
	for _, src := range args[1:] {
		b.WriteString(ts.ReadFile(src))
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(b.String()), 0o600))
}

// tcplisten NAME listens on a free TCP port of 127.0.0.1 until the
// script ends, and sets $NAME to the port.
func cmdTCPListen(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: tcplisten NAME")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	ts.Defer(func() { l.Close() })
	ts.Setenv(args[0], strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
}

// closedport NAME sets $NAME to a TCP port of 127.0.0.1 that nothing
// listens on: one the system just gave out and took back, and not one
// given to another NAME of the script.
func cmdClosedPort(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: closedport NAME")
	}
	st := state(ts)
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		ts.Check(err)
		port := l.Addr().(*net.TCPAddr).Port
		ts.Check(l.Close())
		if !st.ports[port] {
			st.ports[port] = true
			ts.Setenv(args[0], strconv.Itoa(port))
			return
		}
	}
	ts.Fatalf("no new free port")
}

// tcpecho NAME serves on a free TCP port of 127.0.0.1 until the script
// ends, and sets $NAME to the port: each connection gets back what it
// sends, and is closed once the client has closed its side.
func cmdTCPEcho(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: tcpecho NAME")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	ts.Defer(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(time.Minute))
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	ts.Setenv(args[0], strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
}

// waitfile FILE REGEXP waits up to 10 seconds for FILE to exist and
// match REGEXP (multi-line).
func cmdWaitfile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waitfile FILE REGEXP")
	}
	re, err := regexp.Compile("(?m)" + args[1])
	ts.Check(err)
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(ts.MkAbs(args[0]))
		if err == nil && re.Match(b) {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s does not match %q after 10s (%q, %v)", args[0], args[1], b, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// udplisten NAME binds a free UDP port of 127.0.0.1 until the script
// ends, and sets $NAME to the port; udprecv NAME reads from it.
func cmdUDPListen(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: udplisten NAME")
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	ts.Check(err)
	ts.Defer(func() { pc.Close() })
	state(ts).udp[args[0]] = pc
	ts.Setenv(args[0], strconv.Itoa(pc.LocalAddr().(*net.UDPAddr).Port))
}

// udprecv NAME FILE waits up to 5 seconds for a datagram on the port
// udplisten NAME bound, and writes it to FILE.
func cmdUDPRecv(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: udprecv NAME FILE")
	}
	pc := state(ts).udp[args[0]]
	if pc == nil {
		ts.Fatalf("no udplisten %s", args[0])
	}
	ts.Check(pc.SetReadDeadline(time.Now().Add(5 * time.Second)))
	buf := make([]byte, 64<<10)
	n, _, err := pc.ReadFrom(buf)
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), buf[:n], 0o600))
}

// generated LENGTH PROTO reads the open and close sequences from the last
// stdout (knock profile show NAME --reveal) and checks that they are what
// --generate promises: LENGTH knocks of PROTO (tcp, udp; mixed: any), the
// close sequence the reverse of the open one, no monotonic run, no
// weakness and no avoided port. It sets $OPEN and $CLOSE to them.
func cmdGenerated(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: generated LENGTH PROTO")
	}
	n, err := strconv.Atoi(args[0])
	ts.Check(err)
	fields := map[string]string{}
	for _, line := range strings.Split(ts.ReadFile("stdout"), "\n") {
		k, v, _ := strings.Cut(line, ":")
		fields[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	open, err := seq.Parse(seq.TCP, fields["open"])
	ts.Check(err)
	closeSeq, err := seq.Parse(seq.TCP, fields["close"])
	ts.Check(err)
	if len(open) != n || open.Reverse().String() != closeSeq.String() {
		ts.Fatalf("generated open %s, close %s: want %d knocks and the reverse", open, closeSeq, n)
	}
	if r := gen.MonotonicRun(open); r >= 0 {
		ts.Fatalf("generated %s has a monotonic run at %d", open, r)
	}
	if w := gen.Weakness(open); w != "" {
		ts.Fatalf("generated %s is weak: %s", open, w)
	}
	for _, k := range open {
		if gen.Avoided(k.Port) || (args[1] != "mixed" && k.Proto.String() != args[1]) {
			ts.Fatalf("generated knock %s (want %s, no avoided port)", k, args[1])
		}
	}
	ts.Setenv("OPEN", open.String())
	ts.Setenv("CLOSE", closeSeq.String())
}

// TestHelpScriptCoversEveryCommand keeps testdata/help.txtar complete:
// it runs --help of every command in the tree, hidden ones included.
func TestHelpScriptCoversEveryCommand(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "help.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	script := string(b)
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Name() == "help" {
				continue
			}
			path := strings.TrimPrefix(sub.CommandPath(), "knock ")
			if !strings.Contains(script, "\nexec knock "+path+" --help\n") {
				t.Errorf("testdata/help.txtar does not run knock %s --help", path)
			}
			walk(sub)
		}
	}
	walk(newRootCmd())
}
