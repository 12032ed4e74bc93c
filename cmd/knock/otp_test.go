package main

import (
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

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
