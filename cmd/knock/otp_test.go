package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/a-knock/knock/internal/otp"
	"github.com/a-knock/knock/internal/profiles"
)

// otpCLI runs the knock binary as a user would, with its own config
// directory and no keyring or ssh_config of the machine. It needs no root.
type otpCLI struct {
	t   *testing.T
	bin string
	dir string
}

func newOTPCLI(t *testing.T) *otpCLI {
	t.Helper()
	return &otpCLI{t: t, bin: knockBin(t), dir: t.TempDir()}
}

func (c *otpCLI) run(args ...string) (stdout, stderr string, code int) {
	c.t.Helper()
	return runKnockBinIn(c.t, []string{"HOME=" + c.dir, "XDG_CONFIG_HOME=" + c.dir, "XDG_RUNTIME_DIR=" + c.dir,
		"DBUS_SESSION_BUS_ADDRESS="}, "", args...)
}

func (c *otpCLI) mustRun(args ...string) string {
	c.t.Helper()
	so, se, code := c.run(args...)
	if code != 0 {
		c.t.Fatalf("knock %s: exit %d: %s", strings.Join(args, " "), code, se)
	}
	return so
}

// profile reads a profile straight from the test's file store.
func (c *otpCLI) profile(name string) *profiles.Profile {
	c.t.Helper()
	st, err := profiles.New(profiles.Options{Dir: filepath.Join(c.dir, "knock"), NoKeyring: true})
	if err != nil {
		c.t.Fatal(err)
	}
	p, _, err := st.Get(name)
	if err != nil {
		c.t.Fatal(err)
	}
	return p
}

func TestOTPCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds and runs the knock binary")
	}
	c := newOTPCLI(t)
	c.mustRun("otp", "init", "door", "--host", "127.0.0.1", "--length", "6", "--ports", "7000-7999",
		"--proto", "mixed", "--store", "file", "--wait", "22", "--tcp-flags", "syn")
	p := c.profile("door")
	if p.EffectiveKind() != profiles.KindOTP || p.OTP == nil || len(p.OTP.Secret) != otp.SecretSize ||
		p.OTP.Counter != 0 || p.OTP.Length != 6 || p.OTP.PortLo != 7000 || p.OTP.PortHi != 7999 ||
		p.OTP.Proto != "mixed" || p.WaitPort != 22 || p.TCPFlags != "syn" || p.Host != "127.0.0.1" {
		t.Fatalf("stored profile: %+v, otp %+v", p, p.OTP)
	}
	st, err := os.Stat(filepath.Join(c.dir, "knock", "profiles.json"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("profiles file: %v, %v", st, err)
	}

	// server-file prints what the derivation gives for the stored secret.
	params := otp.Params{Length: 6, PortLo: 7000, PortHi: 7999, Mode: otp.ModeMixed}
	var want bytes.Buffer
	if err := otp.WriteServerFile(&want, p.OTP.Secret, params, 0, 5); err != nil {
		t.Fatal(err)
	}
	if got := c.mustRun("otp", "server-file", "door", "--count", "5"); got != want.String() {
		t.Fatalf("server-file:\n%s\nwant:\n%s", got, want.String())
	}
	want.Reset()
	otp.WriteServerFile(&want, p.OTP.Secret, params, 3, 2)
	if got := c.mustRun("otp", "server-file", "door", "--count", "2", "--from", "3"); got != want.String() {
		t.Fatalf("server-file --from 3:\n%s\nwant:\n%s", got, want.String())
	}

	// resync sets the counter; status shows it; server-file then starts there.
	c.mustRun("otp", "resync", "door", "--counter", "3")
	if !regexp.MustCompile(`(?m)^counter\s+3$`).MatchString(c.mustRun("otp", "status", "door")) {
		t.Fatal("status does not show counter 3")
	}
	if got := c.mustRun("otp", "server-file", "door", "--count", "2"); got != want.String() {
		t.Fatalf("server-file after resync 3:\n%s\nwant:\n%s", got, want.String())
	}
	// A dry run shows sequence 3 and leaves the counter.
	out := c.mustRun("door", "--dry-run")
	s3, _ := otp.Sequence(p.OTP.Secret, 3, params)
	if !strings.Contains(out, "one-time sequence 3 of door") || !strings.Contains(out, "127.0.0.1:"+strconv.Itoa(int(s3[0].Port))) {
		t.Fatalf("dry run:\n%s", out)
	}
	if c.profile("door").OTP.Counter != 3 {
		t.Fatal("a dry run moved the counter")
	}
	// Status never shows the secret.
	if strings.Contains(c.mustRun("otp", "status", "door"), string(p.OTP.Secret)) {
		t.Fatal("status printed the secret")
	}

	// Bad input: exit 2, one line naming the problem.
	for _, tt := range []struct {
		args []string
		msg  string
	}{
		{[]string{"otp", "init", "door", "--store", "file"}, "already exists"},
		{[]string{"otp", "init", "x", "--ports", "7000-7002", "--store", "file"}, "fewer than the 4"},
		{[]string{"otp", "init", "x", "--ports", "9-8", "--store", "file"}, "port range"},
		{[]string{"otp", "init", "x", "--length", "33", "--store", "file"}, "length 33"},
		{[]string{"otp", "init", "x", "--proto", "icmp", "--store", "file"}, "invalid protocol"},
		{[]string{"otp", "init", "7000", "--store", "file"}, "port list"},
		{[]string{"otp", "server-file", "door"}, "--count"},
		{[]string{"otp", "server-file", "door", "--count", "0"}, "--count 0"},
		{[]string{"otp", "server-file", "nope", "--count", "1"}, "not found"},
		{[]string{"otp", "resync", "door"}, "--counter"},
		{[]string{"otp", "status"}, "NAME"},
		{[]string{"otp"}, "subcommand"},
		{[]string{"otp", "frob"}, "unknown otp subcommand"},
	} {
		_, se, code := c.run(tt.args...)
		if code != 2 || !strings.Contains(se, tt.msg) || strings.Count(se, "\n") != 1 {
			t.Errorf("knock %s: exit %d, stderr %q; want 2 and one line with %q", strings.Join(tt.args, " "), code, se, tt.msg)
		}
	}
	// Another kind of profile is refused by the otp commands.
	st2, _ := profiles.New(profiles.Options{Dir: filepath.Join(c.dir, "knock"), NoKeyring: true})
	if err := st2.Add(&profiles.Profile{Name: "plain", Host: "127.0.0.1", Open: "7000,8000"}, profiles.StoreFile); err != nil {
		t.Fatal(err)
	}
	if _, se, code := c.run("otp", "status", "plain"); code != 2 || !strings.Contains(se, "not a one-time profile") {
		t.Errorf("otp status on a sequence profile: exit %d: %s", code, se)
	}
}

// TestOTPConcurrentCounter runs several knock processes on one one-time
// profile at once. Without a wait port each knock advances the counter
// once sent; the knocks must take turns, so that every process plays its
// own sequence and no increment is lost. The knocks go to closed ports on
// loopback.
func TestOTPConcurrentCounter(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds and runs the knock binary")
	}
	c := newOTPCLI(t)
	c.mustRun("otp", "init", "busy", "--host", "127.0.0.1", "--store", "file")
	const procs, each = 4, 5
	var (
		mu     sync.Mutex
		played []int
		wg     sync.WaitGroup
	)
	re := regexp.MustCompile(`playing one-time sequence (\d+) of busy`)
	for w := 0; w < procs; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				_, se, code := c.run("-v", "busy")
				m := re.FindStringSubmatch(se)
				if code != 0 || m == nil {
					t.Errorf("knock busy: exit %d: %s", code, se)
					return
				}
				n, _ := strconv.Atoi(m[1])
				mu.Lock()
				played = append(played, n)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	sort.Ints(played)
	for i, n := range played {
		if n != i {
			t.Fatalf("sequences played: %v, want 0..%d each once", played, procs*each-1)
		}
	}
	if got := c.profile("busy").OTP.Counter; got != procs*each {
		t.Fatalf("counter %d after %d knocks", got, procs*each)
	}
	// Concurrent resyncs and knocks leave a counter that is one of the
	// values written, never a torn or stale record.
	var wg2 sync.WaitGroup
	for w := 0; w < procs; w++ {
		wg2.Add(1)
		go func() {
			defer wg2.Done()
			c.mustRun("otp", "resync", "busy", "--counter", "100")
			c.mustRun("busy")
		}()
	}
	wg2.Wait()
	if got := c.profile("busy").OTP.Counter; got < 101 || got > 100+procs {
		t.Fatalf("counter %d after resyncs to 100 and %d knocks", got, procs)
	}
}
