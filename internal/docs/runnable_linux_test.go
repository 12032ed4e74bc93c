package docs

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
)

// TestRunnableDocs runs every marked block of every page, as a reader
// would type it, in a sandbox: a fresh home directory per page (blocks of
// one page share it, in order, so an earlier block can make a profile
// that a later one uses), the file store and no keyring (no D-Bus
// session), a network namespace with nothing but loopback (unshare -rn,
// as any user), and knock built from this tree first in PATH. `go run
// ./cmd/knock` runs that same knock. Each block must exit as its marker
// says (0 unless exit=N).
func TestRunnableDocs(t *testing.T) {
	bin := buildKnock(t)
	ran := 0
	for _, p := range pageFiles(t) {
		page, err := Parse(readPage(t, p))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		marked := false
		for _, b := range page.Blocks {
			marked = marked || b.Run != nil || b.File != nil
		}
		if !marked {
			continue
		}
		t.Run(p, func(t *testing.T) {
			sb := newSandbox(t, bin)
			for _, b := range page.Blocks {
				switch {
				case b.File != nil:
					sb.write(t, p, b)
				case b.Run != nil && !haveInterpreter(t, b):
					t.Logf("%s:%d: no python3 here (not in CI): block not run", p, b.Line)
				case b.Run != nil:
					if err := sb.run(p, b); err != nil {
						t.Error(err)
					}
					ran++
				}
			}
		})
	}
	if ran == 0 {
		t.Error("no runnable block in any page")
	}
}

// buildKnock checks the sandbox's prerequisites and builds knock from
// this tree into a directory of its own, which it returns.
func buildKnock(t *testing.T) string {
	t.Helper()
	requireSandbox(t)
	bin := filepath.Join(t.TempDir(), "bin")
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "knock"), "./cmd/knock")
	build.Dir = repo
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/knock: %v\n%s", err, out)
	}
	return bin
}

// TestSandbox runs a page made for the test: a file block read by a
// later block, expected exit statuses, stdin, a part of a block, go run,
// and a knock to a documentation address, which the sandbox's network
// namespace cannot reach.
func TestSandbox(t *testing.T) {
	bin := buildKnock(t)
	src := "<!-- file: ~/notes.txt mode=0600 -->\n```\nhello\n```\n\n" +
		"<!-- run -->\n```sh\ngrep -q hello ~/notes.txt\ntest \"$(stat -c %a ~/notes.txt)\" = 600\n```\n\n" +
		"<!-- run exit=3 -->\n```sh\nexit 3\n```\n\n" +
		"<!-- run stdin=\"line\\n\" -->\n```sh\nread l && test \"$l\" = line\n```\n\n" +
		"<!-- run lines=2-2 -->\n```sh\nexit 9\ngo run ./cmd/knock --version\n```\n\n" +
		"<!-- run exit=127 -->\n```sh\ngo version\n```\n\n" +
		"<!-- run exit=1 -->\n```sh\nknock 198.51.100.2 7000 8000 9000\n```\n\n" +
		"<!-- run -->\n```sh\nknock 127.0.0.1 7000 8000 9000\n```\n"
	page, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	sb := newSandbox(t, bin)
	for _, b := range page.Blocks {
		if b.File != nil {
			sb.write(t, "test.md", b)
		} else if err := sb.run("test.md", b); err != nil {
			t.Error(err)
		}
	}

	// A block that exits otherwise than its marker says is an error.
	wrong := Block{Line: 1, Lang: "sh", Body: "exit 4\n", Run: &Run{Exit: 0}}
	if err := sb.run("test.md", wrong); err == nil || !strings.Contains(err.Error(), "exit status 4, want 0") {
		t.Errorf("a block with the wrong exit status: %v", err)
	}
}

// haveInterpreter reports whether the interpreter of a python block is
// installed; in CI its absence fails the test (the test command installs
// python3-minimal). Shell blocks always have one.
func haveInterpreter(t *testing.T, b Block) bool {
	t.Helper()
	if b.Lang != "python" && b.Lang != "python3" {
		return true
	}
	for _, dir := range strings.Split(systemPath, ":") {
		if _, err := os.Stat(filepath.Join(dir, "python3")); err == nil {
			return true
		}
	}
	if os.Getenv("CI") == "true" {
		t.Errorf("python3 is missing, for the block at line %d (the test command installs python3-minimal)", b.Line)
	}
	return false
}

// requireSandbox checks that unshare and ip can make a loopback-only
// network namespace: in CI their absence fails the test.
func requireSandbox(t *testing.T) {
	t.Helper()
	out, err := exec.Command("unshare", "-rn", "ip", "link", "set", "lo", "up").CombinedOutput()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("cannot make a sandbox network namespace (unshare -rn ip link set lo up: %v %s)", err, bytes.TrimSpace(out))
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg + " (outside CI, so skipping)")
}

// systemPath is the sandbox's PATH after knock's directory.
const systemPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

type sandbox struct {
	dir, home, work string
	env             []string
}

func newSandbox(t *testing.T, bin string) *sandbox {
	dir := t.TempDir()
	sb := &sandbox{dir: dir, home: filepath.Join(dir, "home"), work: filepath.Join(dir, "work")}
	for _, d := range []string{sb.home, sb.work, filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	sb.env = []string{
		"PATH=" + bin + ":" + systemPath,
		"HOME=" + sb.home,
		"TMPDIR=" + filepath.Join(dir, "tmp"),
		"LANG=C.UTF-8",
		"TERM=dumb",
		"COLORFGBG=15;0",
	}
	return sb
}

// write writes a file block where its marker says (~/ is the home).
func (sb *sandbox) write(t *testing.T, page string, b Block) {
	path := b.File.Path
	if rest, ok := strings.CutPrefix(path, "~/"); ok {
		path = filepath.Join(sb.home, rest)
	} else if !filepath.IsAbs(path) {
		path = filepath.Join(sb.work, path)
	} else {
		t.Fatalf("%s:%d: file: %s: an absolute path would leave the sandbox", page, b.Line, path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(b.Body), b.File.Mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, b.File.Mode); err != nil {
		t.Fatal(err)
	}
}

// shellPrelude makes `go run ./cmd/knock` run the knock built from this
// tree; any other go command is refused.
const shellPrelude = `go() {
	if [ "$1" = run ] && [ "$2" = ./cmd/knock ]; then shift 2; knock "$@"; return; fi
	echo "docs sandbox: only 'go run ./cmd/knock' runs here" >&2; return 127
}
`

// run executes a block in a loopback-only network namespace and says
// how it went when it did not exit as its marker says.
func (sb *sandbox) run(page string, b Block) error {
	var interp, script string
	switch b.Lang {
	case "sh", "bash", "console", "":
		interp, script = "sh -e", shellPrelude+b.Lines()
	case "python", "python3":
		interp, script = "python3", b.Lines()
	default:
		return fmt.Errorf("%s:%d: cannot run a %q block", page, b.Line, b.Lang)
	}
	f := filepath.Join(sb.dir, fmt.Sprintf("block-%d", b.Line))
	if err := os.WriteFile(f, []byte(script), 0o600); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "-rn", "sh", "-c", `ip link set lo up && exec `+interp+` "$0"`, f)
	cmd.Dir, cmd.Env = sb.work, sb.env
	cmd.Stdin = strings.NewReader(b.Run.Stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// A block's background processes die with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok || ctx.Err() != nil {
			return fmt.Errorf("%s:%d: %v\n%s", page, b.Line, err, out.String())
		}
		code = ee.ExitCode()
	}
	if code != b.Run.Exit {
		return fmt.Errorf("%s:%d: exit status %d, want %d; the block:\n%s\noutput:\n%s", page, b.Line, code, b.Run.Exit, b.Lines(), out.String())
	}
	return nil
}
