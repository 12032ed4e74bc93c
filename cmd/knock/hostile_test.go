//go:build unix

package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The bad-input suite (issue 16, items 1-3 and 5): hostile files, numbers
// and bytes, each given to knock as a user would. Every case is a row of
// hostileCases, and the same rows seed FuzzHostileInput, whose corpus
// grows under testdata/fuzz/FuzzHostileInput. Whatever the input, knock
// must end within its bound, never panic, print at most one error line,
// never put a control byte on the terminal, and give bad input exit 2.

// A hostile case runs one command template with value and a file whose
// content is given: "@devzero" stands for /dev/zero, "@fifo" for a FIFO,
// "@0644" prefixes content written with mode 0644.
type hostileCase struct {
	name     string
	template int
	value    string
	content  string
	code     int    // the exit code
	want     string // in the error line ("" with code 0)
}

// hostileTemplates are the commands, with FILE and VALUE filled in. They
// send nothing (dry runs, or checks that fail before sending) and only to
// 127.0.0.1: the profile "lab" knocks 127.0.0.1.
var hostileTemplates = []struct {
	args []string
	file string // where FILE is written: a name in the work directory, or the store
}{
	0: {[]string{"-F", "FILE", "lab", "--dry-run"}, "ssh_config"},
	1: {[]string{"doctor", "--server-config", "FILE"}, "knockd.conf"},
	2: {[]string{"profile", "import", "FILE", "--dry-run"}, "import"},
	3: {[]string{"127.0.0.1", "7000", "--dry-run", "--timeout", "VALUE"}, ""},
	4: {[]string{"127.0.0.1", "7000", "--dry-run", "-d", "VALUE"}, ""},
	5: {[]string{"spa", "send", "127.0.0.1", "-A", "tcp/22", "--key-file", "FILE", "--dry-run"}, "keys"},
	6: {[]string{"profile", "show", "VALUE"}, "store"},
	7: {[]string{"serve", "-c", "FILE", "--listen", "--bind", "127.0.0.1", "--exec-timeout", "VALUE"}, "knockd.conf"},
	8: {[]string{"otp", "resync", "lab", "--counter", "VALUE"}, ""},
	9: {[]string{"127.0.0.1", "7000", "--dry-run", "--seq-timeout", "VALUE"}, ""},
}

const esc = "\x1b]0;owned\a\x1b[2J"

var hostileCases = []hostileCase{
	// 1. Unbounded reads: devices, FIFOs and huge files are refused.
	{"ssh_config /dev/zero", 0, "", "@devzero", 2, "not a regular file"},
	{"ssh_config FIFO", 0, "", "@fifo", 2, "not a regular file"},
	{"ssh_config Include /dev/zero", 0, "", "Host lab\n  Include /dev/zero\n", 2, "not a regular file"},
	{"knockd.conf /dev/zero", 1, "", "@devzero", 2, "not a regular file"},
	{"knockd.conf FIFO", 1, "", "@fifo", 2, "not a regular file"},
	{"one_time_sequences /dev/zero (doctor: a note)", 1, "", "[d]\n one_time_sequences = /dev/zero\n", 0, ""},
	{"one_time_sequences /dev/zero (serve)", 7, "10", "[d]\n one_time_sequences = /dev/zero\n", 2, "not a regular file"},
	{"import /dev/zero", 2, "", "@devzero", 2, "not a regular file"},
	{"import huge", 2, "", strings.Repeat("#", 64<<20+1), 2, "too large"},
	{"key file FIFO", 5, "", "@fifo", 2, "not a regular file"},
	{"store FIFO", 6, "lab", "@fifo", 2, "not a regular file"},
	// 2. Numbers out of range.
	{"timeout NaN", 3, "NaN", "", 2, "invalid timeout NaN"},
	{"timeout Inf", 3, "Inf", "", 2, "invalid timeout +Inf"},
	{"timeout 1e300", 3, "1e300", "", 2, "invalid timeout 1e+300"},
	{"delay max int64", 4, "9223372036854775807", "", 2, "invalid delay"},
	{"delay negative", 4, "-1", "", 2, "invalid delay -1"},
	{"seq-timeout NaN", 9, "NaN", "", 2, "invalid seq-timeout NaN"},
	{"serve exec-timeout NaN", 7, "NaN", "[d]\n sequence = 7000\n", 2, "invalid --exec-timeout NaN"},
	{"otp counter at its end", 8, "18446744073709551615", "", 2, "the last counter has no sequence after it"},
	// 3. Control bytes are escaped, never printed raw.
	{"knockd.conf key with ESC", 1, "", "[d]\n sequence = 7000\n k" + esc + " = 1\n", 1, ""},
	{"knockd.conf key with ESC (serve)", 7, "10", "[d]\n sequence = 7000\n k" + esc + " = 1\n", 2, `\x1b`},
	{"binary knockd.conf", 7, "10", "\x00\x01\x02\x7f\xfe" + esc + strings.Repeat("\x9b", 300), 2, `\x`},
	{"ssh_config line with ESC", 0, "", "Host lab\n  " + esc + "\n", 2, `\x1b`},
	{"import with ESC", 2, "", "[door]\n sequence = 7000\n k" + esc + " = 1\n", 2, `\x1b`},
	{"store notes with ESC", 6, "lab", `{"format":"knock-profiles","v":1,"profiles":[{"name":"lab","host":"127.0.0.1","open":"7000:tcp","notes":"` + `\u001b]0;owned\u0007` + `"}]}`, 0, ""},
	// 5. Exit codes: a corrupted or loose store is bad input.
	{"store corrupted", 6, "lab", `{"format":"knock-profiles","v":1,"profiles":[{"name":`, 2, "corrupted"},
	{"store mode 0644", 6, "lab", "@0644" + `{"format":"knock-profiles","v":1,"profiles":[]}`, 2, "chmod 600"},
}

func TestHostileInputs(t *testing.T) {
	for _, c := range hostileCases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runHostile(t, c.template, c.value, []byte(c.content))
			if code != c.code {
				t.Errorf("exit %d, want %d\nstdout: %q\nstderr: %q", code, c.code, stdout, stderr)
			}
			if c.want != "" && !strings.Contains(stderr, c.want) {
				t.Errorf("stderr %q lacks %q", stderr, c.want)
			}
		})
	}
}

// FuzzHostileInput runs the templates with fuzzed values and files; its
// seeds, under testdata/fuzz/FuzzHostileInput, are the rows of
// hostileCases (but the 64 MiB one).
func FuzzHostileInput(f *testing.F) {
	f.Fuzz(func(t *testing.T, template uint8, value string, content []byte) {
		runHostile(t, int(template)%len(hostileTemplates), value, content)
	})
}

// runHostile runs one template and checks what must hold for any input;
// it returns the exit code and the output.
func runHostile(t *testing.T, template int, value string, content []byte) (int, string, string) {
	t.Helper()
	if strings.ContainsAny(value, "\x00") {
		return 0, "", "" // no argv can hold it
	}
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	store := filepath.Join(home, ".config", "knock", "profiles.json")
	if err := os.MkdirAll(filepath.Dir(store), 0o700); err != nil {
		t.Fatal(err)
	}
	tpl := hostileTemplates[template]
	const labStore = `{"format":"knock-profiles","v":1,"profiles":[{"name":"lab","host":"127.0.0.1","open":"7000:tcp","kind":"otp","otp":{"secret":"AAAAAAAAAAAAAAAAAAAAAA==","length":3,"port_lo":40000,"port_hi":40999,"proto":"tcp"}}]}`
	file := ""
	switch tpl.file {
	case "":
	case "store":
		file = store
	default:
		file = filepath.Join(dir, tpl.file)
	}
	if tpl.file != "store" || file == "" {
		if err := os.WriteFile(store, []byte(labStore), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if file != "" {
		mode := os.FileMode(0o600)
		switch {
		case string(content) == "@devzero":
			file = "/dev/zero"
		case string(content) == "@fifo":
			if err := syscall.Mkfifo(file, 0o600); err != nil {
				t.Fatal(err)
			}
		default:
			if b, ok := bytes.CutPrefix(content, []byte("@0644")); ok {
				content, mode = b, 0o644
			}
			if err := os.WriteFile(file, content, mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(file, mode); err != nil {
				t.Fatal(err)
			}
		}
	}
	args := make([]string, len(tpl.args))
	for i, a := range tpl.args {
		switch a {
		case "FILE":
			a = file
		case "VALUE":
			a = value
		}
		args[i] = a
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, hostileBin(t), args...)
	c.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"XDG_STATE_HOME="+filepath.Join(home, ".state"), "DBUS_SESSION_BUS_ADDRESS=", "KNOCK_SSH_CONFIG="+os.DevNull,
		"KNOCK_SPA_KEY_BASE64=", "KNOCK_SPA_HMAC_KEY_BASE64=", "NO_COLOR=1")
	var so, se bytes.Buffer
	c.Stdout, c.Stderr = &so, &se
	err := c.Run()
	if ctx.Err() != nil {
		t.Fatalf("knock %q did not end within 20 s", args)
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	stdout, stderr := so.String(), se.String()
	if code != 0 && code != 1 && code != 2 {
		t.Errorf("knock %q: exit %d\n%s", args, code, stderr)
	}
	if strings.Contains(stderr, "panic:") || strings.Contains(stderr, "goroutine ") {
		t.Errorf("knock %q panicked:\n%s", args, stderr)
	}
	if n := strings.Count(stderr, "knock: error: "); n > 1 || code == 2 && n != 1 {
		t.Errorf("knock %q: exit %d with %d error lines:\n%s", args, code, n, stderr)
	}
	for _, out := range []string{stdout, stderr} {
		for _, r := range out {
			if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f || r >= 0x80 && r < 0xa0 {
				t.Errorf("knock %q printed control byte %q:\n%q", args, r, out)
				break
			}
		}
	}
	return code, stdout, stderr
}

// hostileBin is the knock binary: this test binary under the name knock
// (TestMain runs knock then), as the scripts use it.
func hostileBin(t *testing.T) string {
	t.Helper()
	return filepath.Join(scriptBin(t), "knock")
}
