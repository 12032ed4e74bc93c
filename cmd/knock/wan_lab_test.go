//go:build linux

package main

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/a-knock/knock/internal/lab"
)

// Lab tests of the verify loop on slow doors and real networks (issue
// 15). The door is the seed's kind, not idempotent: each completed open
// sequence inserts one more ACCEPT rule, each close deletes one. Its
// command is delayed the way a slow server or script delays it (sleep D
// before the iptables call); the close is not, so a close that overtakes
// an open's command finds nothing to delete. Every trial must leave the
// server with no ACCEPT rule for the client: knock NAME then knock close
// NAME, and knock ssh NAME -- true.
//
// Trials of a setting run in parallel workers, each with a lab of its own
// (knockd keeps its state per source address, and each worker's history
// is its own, so its first knock is a first contact and the others use
// what it learnt).

// Sequences of the lab's door (lab.SSHDoors' shape: the close is the
// open backwards).
const (
	wanOpenSeq  = "7101,7102,7103"
	wanCloseSeq = "7103,7102,7101"
	wanProfile  = "lab4" // an ssh_config alias of the server's IPv4 address
)

// wanSetting is one network and door.
type wanSetting struct {
	name    string
	latency time.Duration  // the door's command sleeps this long first
	wan     *lab.WANConfig // nil: a plain veth
}

// wanPath is the WAN of issue 15: 150 ms ± 30 ms round trip (75 ms ± 15
// ms uniform each way). loss is dropped each way, of every packet.
func wanPath(loss float64) *lab.WANConfig {
	c := lab.Symmetric(lab.Impairment{Delay: 75 * time.Millisecond, Jitter: 15 * time.Millisecond, Loss: loss})
	return &c
}

// wanDoors is knockd's configuration: the open door's command sleeps
// latency first. Each command, once done, adds a line to a file in the
// lab directory (open-done, close-done), so that a test knows when every
// command knockd started has run.
func wanDoors(latency time.Duration) string {
	ipt, _ := lab.LookPath("iptables")
	rule := "INPUT -s %IP% -p tcp --dport 22 -j ACCEPT"
	return fmt.Sprintf(`[openSSH]
  sequence = %s
  seq_timeout = 5
  tcpflags = syn
  command = /bin/sh -c 'sleep %g; %s -w -I %s; echo >>{{DIR}}/open-done'

[closeSSH]
  sequence = %s
  seq_timeout = 5
  tcpflags = syn
  command = /bin/sh -c '%s -w -D %s; echo >>{{DIR}}/close-done'
`, wanOpenSeq, latency.Seconds(), ipt, rule, wanCloseSeq, ipt, rule)
}

// wanDoor is one worker's lab: the seed's firewall, knockd with the
// delayed door, sshd, and profile lab4 in a store and history of its own.
type wanDoor struct {
	*lab.Lab
	wan     *lab.WAN // nil on a plain veth
	kd      *lab.Knockd
	env     []string
	latency time.Duration
	setting wanSetting
}

func newWANDoor(t testing.TB, s wanSetting) *wanDoor {
	t.Helper()
	d := &wanDoor{latency: s.latency, setting: s}
	if s.wan != nil {
		d.wan = lab.NewWAN(t, *s.wan)
		d.Lab = d.wan.Lab
	} else {
		d.Lab = lab.New(t)
	}
	d.SeedFirewall(t)
	sshd := d.Sshd(t)
	d.kd = d.Knockd(t, wanDoors(s.latency))
	dir := t.TempDir()
	d.env = []string{"HOME=" + dir, "XDG_CONFIG_HOME=" + dir, "XDG_STATE_HOME=" + dir, "XDG_RUNTIME_DIR=" + dir,
		"DBUS_SESSION_BUS_ADDRESS=", "KNOCK_SSH_CONFIG=" + sshd.ClientConf}
	if r := d.knock(t, "profile", "add", wanProfile, "--open", wanOpenSeq, "--close", wanCloseSeq, "--store", "file"); r.Code != 0 {
		t.Fatalf("profile add: exit %d: %s", r.Code, r.Stderr)
	}
	return d
}

func (d *wanDoor) knock(t testing.TB, args ...string) lab.Result {
	t.Helper()
	return d.RunIn(t, d.Client, d.env, lab.KnockBinary(t), args...)
}

// wanTrial is what one trial did.
type wanTrial struct {
	what   string        // the commands
	ok     bool          // every command exited 0
	rules  int           // ACCEPT rules left for the client
	rounds int           // rounds the open played
	open   time.Duration // from the first knock to the port seen open (knock -v)
	first  bool          // the worker's first knock: a first contact
	note   string        // what went wrong
	report string        // what is worth a look (knock doctor's lines)
}

// wanOpened matches knock -v's verdict line.
var wanOpened = regexp.MustCompile(`open after ([0-9.]+(?:µs|ms|s)) \((\d+) round\(s\)\)`)

func parseOpened(stderr string) (time.Duration, int) {
	m := wanOpened.FindStringSubmatch(stderr)
	if m == nil {
		return 0, 0
	}
	d, _ := time.ParseDuration(m[1])
	n, _ := strconv.Atoi(m[2])
	return d, n
}

// rulesLeft waits until every command knockd started (one per OPEN
// SESAME in its log) has run, and returns how many ACCEPT rules the
// client has then. Commands start when a sequence completes and end after
// the door's latency; the last packets of a trial left the client a probe
// timeout before it ended, so knockd has seen them all.
func (d *wanDoor) rulesLeft(t testing.TB) int {
	t.Helper()
	done := func(file string) int {
		b, _ := os.ReadFile(filepath.Join(d.Dir, file))
		return strings.Count(string(b), "\n")
	}
	if !lab.WaitFor(d.latency+5*time.Second, func() bool {
		log := d.kd.Log()
		return done("open-done") == strings.Count(log, "openSSH: OPEN SESAME") &&
			done("close-done") == strings.Count(log, "closeSSH: OPEN SESAME")
	}) {
		t.Errorf("knockd's commands did not all end:\n%s", d.kd.Log())
	}
	return len(d.AcceptRules(t))
}

// openClose runs knock NAME, then knock close NAME.
func (d *wanDoor) openClose(t testing.TB) wanTrial {
	t.Helper()
	tr := wanTrial{what: "knock NAME; knock close NAME"}
	r := d.knock(t, "-v", wanProfile)
	tr.open, tr.rounds = parseOpened(r.Stderr)
	c := d.knock(t, "close", "-v", wanProfile)
	tr.ok = r.Code == 0 && c.Code == 0
	tr.rules = d.rulesLeft(t)
	if !tr.ok || tr.rules != 0 {
		tr.note = fmt.Sprintf("knock: exit %d\n%s\nknock close: exit %d\n%s", r.Code, r.Stderr, c.Code, c.Stderr)
	}
	return tr
}

// ssh runs knock ssh NAME -- true.
func (d *wanDoor) ssh(t testing.TB) wanTrial {
	t.Helper()
	tr := wanTrial{what: "knock ssh NAME -- true"}
	r := d.knock(t, "ssh", "-v", wanProfile, "--", "true")
	tr.open, tr.rounds = parseOpened(r.Stderr)
	tr.ok = r.Code == 0
	tr.rules = d.rulesLeft(t)
	if !tr.ok || tr.rules != 0 {
		tr.note = fmt.Sprintf("knock ssh: exit %d\n%s", r.Code, r.Stderr)
	}
	return tr
}

// wanConcurrency bounds the workers that run at once. They are
// goroutines, not parallel subtests: go test runs only GOMAXPROCS of
// those at a time, and a worker mostly waits (for doors, round trips,
// timers), not computes.
const wanConcurrency = 12

// wanWorker is the testing.TB of a worker's goroutine: a fatal error in
// the lab's helpers fails the test and ends the worker, not the test's
// goroutine (testing forbids FailNow elsewhere).
type wanWorker struct{ testing.TB }

func (w wanWorker) Fatal(args ...any) { w.TB.Error(args...); runtime.Goexit() }
func (w wanWorker) Fatalf(format string, args ...any) {
	w.TB.Errorf(format, args...)
	runtime.Goexit()
}
func (w wanWorker) FailNow()                    { w.TB.Fail(); runtime.Goexit() }
func (w wanWorker) Skip(args ...any)            { w.Fatal(args...) }
func (w wanWorker) SkipNow()                    { w.FailNow() }
func (w wanWorker) Skipf(f string, args ...any) { w.Fatalf(f, args...) }

// wanDoctorRTT and wanDoctorOpen read knock doctor's timing lines.
var (
	wanDoctorRTT  = regexp.MustCompile(`ok    round-trip: ([0-9.]+(?:ns|µs|ms|s))`)
	wanDoctorOpen = regexp.MustCompile(`door-latency: port seen open ([0-9.]+(?:ns|µs|ms|s)) after the last knock`)
	wanDoctorTmr  = regexp.MustCompile(`replay-timer: a round is played again after ([0-9.]+(?:ns|µs|ms|s)): 3/2`)
)

// doctor runs knock doctor NAME --knock: it opens and closes the door,
// and reports the round trip, the door's latency and the replay timer,
// which must fit the setting: the door's delay shows in its latency, the
// WAN's in the round trip, and the timer covers both.
func (d *wanDoor) doctor(t testing.TB, s wanSetting) wanTrial {
	t.Helper()
	tr := wanTrial{what: "knock doctor NAME --knock"}
	r := d.knock(t, "doctor", wanProfile, "--knock")
	tr.rules = d.rulesLeft(t)
	dur := func(re *regexp.Regexp) time.Duration {
		m := re.FindStringSubmatch(r.Stdout)
		if m == nil {
			return -1
		}
		v, _ := time.ParseDuration(m[1])
		return v
	}
	rtt, open, timer := dur(wanDoctorRTT), dur(wanDoctorOpen), dur(wanDoctorTmr)
	minRTT := time.Duration(0)
	if s.wan != nil {
		minRTT = 2 * (s.wan.ClientToServer.Delay - s.wan.ClientToServer.Jitter)
	}
	tr.ok = r.Code == 0 && rtt >= minRTT && open >= s.latency+minRTT && timer > open
	tr.report = r.Stdout
	if !tr.ok || tr.rules != 0 {
		tr.note = fmt.Sprintf("knock doctor: exit %d (round trip %s, want %s at least; open %s, want %s at least; timer %s)\n%s\n%s",
			r.Code, rtt, minRTT, open, s.latency+minRTT, timer, r.Stdout, r.Stderr)
	}
	return tr
}

// wanGroup runs settings at once: each in workers, each worker in a lab of
// its own, running its trials one after the other. It returns the trials
// of each setting.
func wanGroup(t *testing.T, settings []wanSetting, workers, perWorker int, trial func(testing.TB, *wanDoor, int) wanTrial) [][]wanTrial {
	t.Helper()
	var mu sync.Mutex
	all := make([][]wanTrial, len(settings))
	var wg sync.WaitGroup
	slots := make(chan struct{}, wanConcurrency)
	for i, s := range settings {
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				slots <- struct{}{}
				defer func() { <-slots }()
				tb := wanWorker{t}
				d := newWANDoor(tb, s)
				for n := range perWorker {
					tr := trial(tb, d, n)
					tr.first = n == 0
					if tr.note != "" {
						tr.note += "\nknockd:\n" + d.kd.Log()
					}
					mu.Lock()
					all[i] = append(all[i], tr)
					mu.Unlock()
				}
				if d.wan != nil {
					for _, dir := range []lab.Dir{lab.ClientToServer, lab.ServerToClient} {
						if st := d.wan.Stats(dir); st.Errors != 0 || st.Overflow != 0 {
							t.Errorf("%s: emulator %s: %+v", s.name, dir, st)
						}
					}
				}
			}()
		}
	}
	wg.Wait()
	return all
}

// wanSummary is one line of figures: trials, failures, rules left (how
// many trials left how many), rounds, and time to open (from the first
// knock, as knock -v reports it) of the first contacts and of the others.
func wanSummary(trials []wanTrial) string {
	var ok, multi int
	rules := map[int]int{}
	var learned, first []time.Duration
	for _, tr := range trials {
		if tr.ok {
			ok++
		}
		rules[tr.rules]++
		if tr.rounds > 1 {
			multi++
		}
		if tr.open > 0 {
			if tr.first {
				first = append(first, tr.open)
			} else {
				learned = append(learned, tr.open)
			}
		}
	}
	var left []string
	for _, n := range slices.Sorted(maps.Keys(rules)) {
		left = append(left, fmt.Sprintf("%d rule(s) x%d", n, rules[n]))
	}
	return fmt.Sprintf("%d trials, %d ok; left %s; %d opened in more than one round; time to open, learnt timer: %s; first contact: %s",
		len(trials), ok, strings.Join(left, ", "), multi, wanQuantiles(learned), wanQuantiles(first))
}

func wanQuantiles(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	slices.Sort(ds)
	q := func(f float64) string { return ds[int(f*float64(len(ds)-1)+0.5)].Round(time.Millisecond).String() }
	return fmt.Sprintf("median %s, p90 %s, max %s (n=%d)", q(.5), q(.9), q(1), len(ds))
}

// TestLabWANCloseLeavesNoRule: with door latencies 0, 0.15, 0.3 and 0.6 s
// on a veth, and on a WAN of 150 ± 30 ms round trip with 2% loss each way,
// knock NAME then knock close NAME, and knock ssh NAME -- true, leave no
// ACCEPT rule behind: 20 trials each, all settings at once. knock doctor
// NAME --knock reports what the door's timing is.
func TestLabWANCloseLeavesNoRule(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: lab test: 200 knocks through slow doors and a WAN")
	}
	lab.Require(t, "knockd", "sshd", "ssh", "iptables", "ip6tables")
	settings := []wanSetting{
		{name: "latency-0", latency: 0},
		{name: "latency-0.15", latency: 150 * time.Millisecond},
		{name: "latency-0.3", latency: 300 * time.Millisecond},
		{name: "latency-0.6", latency: 600 * time.Millisecond},
		{name: "wan-150ms-2pct", wan: wanPath(0.02)},
	}
	// 20 trials of each command, then one knock doctor --knock in each
	// worker.
	const workers, perWorker = 4, 11
	results := wanGroup(t, settings, workers, perWorker, func(t testing.TB, d *wanDoor, n int) wanTrial {
		switch {
		case n == perWorker-1:
			return d.doctor(t, d.setting)
		case n%2 == 0:
			return d.openClose(t)
		}
		return d.ssh(t)
	})
	for i, s := range settings {
		byWhat := map[string][]wanTrial{}
		for _, tr := range results[i] {
			if !tr.ok || tr.rules != 0 {
				t.Errorf("%s, %s: %d ACCEPT rule(s) left:\n%s", s.name, tr.what, tr.rules, tr.note)
			}
			byWhat[tr.what] = append(byWhat[tr.what], tr)
		}
		for _, what := range slices.Sorted(maps.Keys(byWhat)) {
			t.Logf("%s, %s: %s", s.name, what, wanSummary(byWhat[what]))
		}
		for _, tr := range byWhat["knock doctor NAME --knock"][:1] {
			t.Logf("%s, knock doctor NAME --knock:\n%s", s.name, tr.report)
		}
	}
}

// TestLabWANLossOpens: at 25% knock loss on a WAN of 150 ± 30 ms round
// trip, knock NAME opens the door in at least 99 of 100 trials. Only
// knocks are lost (lab.KnocksExcept): the probes of port 22 cross. After
// each trial the client's rules are deleted by hand (a close would be
// lost as often); the summary counts how many there were.
func TestLabWANLossOpens(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: lab test: 100 knocks through a lossy WAN")
	}
	lab.Require(t, "knockd", "sshd", "ssh", "iptables", "ip6tables")
	lossy := wanPath(0)
	lossy.ClientToServer.Loss, lossy.ClientToServer.Filter = 0.25, lab.KnocksExcept(22)
	s := wanSetting{name: "wan-150ms-25pct-knock-loss", wan: lossy}
	const workers, perWorker = 4, 25
	results := wanGroup(t, []wanSetting{s}, workers, perWorker, func(t testing.TB, d *wanDoor, n int) wanTrial {
		tr := wanTrial{what: "knock NAME"}
		r := d.knock(t, "-v", wanProfile)
		tr.open, tr.rounds = parseOpened(r.Stderr)
		tr.ok = r.Code == 0
		if !tr.ok {
			tr.note = fmt.Sprintf("knock: exit %d\n%s", r.Code, r.Stderr)
		}
		tr.rules = d.rulesLeft(t) // the rounds that opened the door
		ipt, _ := lab.LookPath("iptables")
		for range 200 {
			if _, err := d.Exec(d.Server, ipt, "-w", "-D", "INPUT", "-s", lab.ClientIP4.String(), "-p", "tcp", "--dport", "22", "-j", "ACCEPT"); err != nil {
				break
			}
		}
		return tr
	})
	ok := 0
	var failures []string
	for _, tr := range results[0] {
		if tr.ok {
			ok++
		} else {
			failures = append(failures, tr.note)
		}
	}
	t.Logf("%s: %s", s.name, wanSummary(results[0]))
	if len(failures) > 0 {
		t.Logf("failures:\n%s", strings.Join(failures, "\n"))
	}
	if ok < 99 {
		t.Fatalf("%d of %d knocks opened the door at 25%% knock loss, want 99 at least:\n%s", ok, len(results[0]), strings.Join(failures, "\n"))
	}
}
