//go:build linux

package server

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/a-knock/knock/internal/lab"
)

// The flood lab test's figures. The door has six knocks and the client
// paces them 300 ms apart, so a sequence lasts 1.5 s; the table holds
// floodMaxAttempts, which a 25,000 packets/s flood of first knocks turns
// over in 1 s. Evicting the oldest attempt whatever its stage (the old
// policy) loses every sequence; evicting first knocks first keeps them
// all, as long as a first knock outlives the 300 ms to the second (700 ms
// of margin for a loaded machine).
const (
	floodPPS         = 25000
	floodMaxAttempts = 25000
	floodSequences   = 10
	floodGap         = 300 * time.Millisecond
	floodKnocks      = 6
	floodMaxRSSMB    = 64
)

// TestServeFloodLab runs `knock serve --sniff` in the server namespace,
// floods its door's first port with SYNs from ever new spoofed IPv6
// sources (bench/flood) from the client namespace, and plays ten paced
// sequences from the client's own address meanwhile. At least nine must
// open, no attempt past its first knock may be evicted, and the server's
// peak RSS must stay bounded.
func TestServeFloodLab(t *testing.T) {
	lab.Require(t, "ip")
	if testing.Short() {
		t.Skip("-short: lab test")
	}
	knock := lab.KnockBinary(t)
	flood := floodBinary(t)
	l := lab.New(t)

	mark := filepath.Join(l.Dir, "mark")
	if err := os.MkdirAll(mark, 0o755); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(l.Dir, "serve.log")
	ports := make([]string, floodKnocks)
	for i := range ports {
		ports[i] = strconv.Itoa(7101 + i)
	}
	conf := fmt.Sprintf("[options]\n  LogFile = %s\n[door]\n  sequence = %s\n  seq_timeout = 10\n  tcpflags = syn\n  command = /usr/bin/mktemp %s/open.XXXXXX\n",
		logFile, strings.Join(ports, ","), mark)
	confPath := filepath.Join(l.Dir, "serve.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := l.Start(t, l.Server, knock, "serve", "--sniff", "-q", "-c", confPath, "-i", l.ServerIf,
		"--max-attempts", strconv.Itoa(floodMaxAttempts))
	readLog := func() string {
		b, _ := os.ReadFile(logFile)
		return string(b)
	}
	if !lab.WaitFor(10*time.Second, func() bool { return strings.Contains(readLog(), "listening on") || srv.Exited() }) || srv.Exited() {
		t.Fatalf("knock serve did not start:\n%s%s", srv.Output(), readLog())
	}
	opens := func() int {
		m, _ := filepath.Glob(filepath.Join(mark, "open.*"))
		return len(m)
	}
	server := lab.ServerIP4.String()
	play := func() bool {
		before := opens()
		args := append([]string{"-d", strconv.Itoa(int(floodGap / time.Millisecond)), server}, ports...)
		if r := l.Knock(t, args...); r.Code != 0 {
			t.Fatalf("knock %v: exit %d: %s", args, r.Code, r.Stderr)
		}
		return lab.WaitFor(3*time.Second, func() bool { return opens() > before })
	}
	if !play() {
		t.Fatalf("a sequence without flood did not open:\n%s", srv.Output())
	}

	fl := l.Start(t, l.Client, flood, "-dst", lab.ServerIP6.String(), "-ports", ports[0],
		"-pps", strconv.Itoa(floodPPS), "-for", "60s")
	// Let the flood fill the table before the first sequence.
	time.Sleep(time.Second)
	opened := 0
	for i := 0; i < floodSequences && !fl.Exited(); i++ {
		if play() {
			opened++
		}
	}
	_ = fl.Signal(syscall.SIGTERM)
	if _, ok := fl.Wait(5 * time.Second); !ok {
		t.Fatal("flood did not stop")
	}
	rate := 0
	if m := regexp.MustCompile(`(\d+) pps`).FindStringSubmatch(fl.Output()); m != nil {
		rate, _ = strconv.Atoi(m[1])
	} else {
		t.Fatalf("flood: %s", fl.Output())
	}
	rss := vmHWM(t, srv.Cmd.Process.Pid)
	_ = srv.Signal(syscall.SIGTERM)
	if _, ok := srv.Wait(10 * time.Second); !ok {
		t.Fatal("knock serve did not stop on SIGTERM")
	}
	var packets, evicted, advanced int
	tail := fileTail(logFile, 4096)
	m := regexp.MustCompile(`stopped: (\d+) packets, \d+ knock attempts, \d+ opened, (\d+) evicted \((\d+) past`).FindStringSubmatch(tail)
	if m == nil {
		t.Fatalf("no summary at the end of the log:\n%s", tail)
	}
	packets, _ = strconv.Atoi(m[1])
	evicted, _ = strconv.Atoi(m[2])
	advanced, _ = strconv.Atoi(m[3])
	t.Logf("flood %d pps (asked %d) from new IPv6 sources: %d/%d sequences of %d knocks, -d %s, opened; server saw %d packets, evicted %d attempts (%d past their first knock), peak RSS %.1f MB",
		rate, floodPPS, opened, floodSequences, floodKnocks, floodGap, packets, evicted, advanced, rss)

	if opened < floodSequences*9/10 {
		t.Errorf("%d of %d sequences opened under the flood, want at least %d", opened, floodSequences, floodSequences*9/10)
	}
	if advanced != 0 {
		t.Errorf("%d attempts past their first knock were evicted, want 0", advanced)
	}
	if rss >= floodMaxRSSMB {
		t.Errorf("knock serve peak RSS %.1f MB, want < %d MB", rss, floodMaxRSSMB)
	}
	// The test tells the eviction policies apart only when the flood
	// turns the table over within one sequence.
	span := time.Duration(floodKnocks-1) * floodGap
	if need := float64(floodMaxAttempts) / span.Seconds(); float64(rate) < need || evicted == 0 {
		t.Errorf("the flood reached %d pps and evicted %d attempts: below %.0f pps, %d attempts outlast a %s sequence, so this run could not tell a first knock from a later one",
			rate, evicted, need, floodMaxAttempts, span)
	}
}

// floodBinary builds bench/flood into a temporary directory.
func floodBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "flood")
	c := exec.Command("go", "build", "-o", bin, "./bench/flood")
	c.Dir = lab.ModuleRoot(t)
	c.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("go build ./bench/flood: %v: %s", err, out)
	}
	return bin
}

// vmHWM returns a process's peak resident set size in MB.
func vmHWM(t *testing.T, pid int) float64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`VmHWM:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no VmHWM in /proc/%d/status", pid)
	}
	kb, _ := strconv.Atoi(string(m[1]))
	return float64(kb) / 1024
}

// fileTail returns the last n bytes of a file (the log of a flood is
// tens of MB).
func fileTail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		_, _ = f.Seek(-n, 2)
	}
	b := make([]byte, n)
	k, _ := f.Read(b)
	return string(b[:k])
}
