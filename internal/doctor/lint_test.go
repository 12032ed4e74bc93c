package doctor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/a-knock/knock/internal/knockdconf"
)

func lintFiles(t *testing.T, conf, rules string) []Finding {
	t.Helper()
	in := Input{}
	in.Conf, in.ConfErr = knockdconf.ParseFile(conf)
	if in.Conf == nil {
		t.Fatalf("parse %s: %v", conf, in.ConfErr)
	}
	if rules != "" {
		f, err := os.Open(rules)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		in.Rules, in.RulesErr = ParseRules(rules, f)
	}
	fs := Lint(in)
	for _, f := range fs {
		t.Log(f)
	}
	return fs
}

// want checks that a finding of check exists at file:line whose message
// contains every fragment.
func want(t *testing.T, fs []Finding, file string, line int, check string, fragments ...string) {
	t.Helper()
	for _, f := range fs {
		if f.File != file || f.Line != line || f.Check != check {
			continue
		}
		ok := true
		for _, fr := range fragments {
			ok = ok && strings.Contains(f.Message, fr)
		}
		if ok {
			return
		}
	}
	t.Errorf("no %s finding at %s:%d containing %q", check, file, line, fragments)
}

func countCheck(fs []Finding, check string) int {
	n := 0
	for _, f := range fs {
		if f.Check == check {
			n++
		}
	}
	return n
}

// TestSeed lints the seed tutorial's knockd.conf and iptables-save output,
// verbatim: its door appends the ACCEPT behind the DROP, and its sequence
// is the default one.
func TestSeed(t *testing.T) {
	conf, rules := filepath.Join("testdata", "seed-knockd.conf"), filepath.Join("testdata", "seed-rules.v4")
	fs := lintFiles(t, conf, rules)
	want(t, fs, conf, 7, CheckAppendedAccept, "[openSSH]", "-A INPUT", "behind the DROP at "+rules+":7", "--dport 22 -j DROP", "tcp/22 never opens", "-I INPUT")
	want(t, fs, conf, 5, CheckWeakSequence, "[openSSH]", "7000,8000,9000")
	want(t, fs, conf, 11, CheckWeakSequence, "[closeSSH]")
	want(t, fs, conf, 7, CheckIPv6Fallback, "start_command_6")
	for _, c := range []string{CheckNoEstablished, CheckNoClose, CheckRelativePath, CheckRawFlags, CheckSeqTimeout, CheckSyntax, CheckNotBlocked} {
		if n := countCheck(fs, c); n != 0 {
			t.Errorf("%d unexpected %s findings", n, c)
		}
	}
	want(t, fs, conf, 0, CheckInterface, "eth0")
	if Problems(fs) != 5 || countCheck(fs, CheckLogging) != 0 {
		t.Errorf("%d problems, want 5 (the note is no problem); logging note for a UseSyslog file", Problems(fs))
	}
	if countCheck(fs, CheckAppendedAccept) != 1 {
		t.Errorf("want exactly one appended-accept finding (the close door deletes, fine)")
	}
	// Without the dump, doctor still names the append, in general terms.
	fs = lintFiles(t, conf, "")
	want(t, fs, conf, 7, CheckAppendedAccept, "never reached", "-I INPUT")
}

func TestSeedMore(t *testing.T) {
	conf := filepath.Join("testdata", "seed-more.conf")
	fs := lintFiles(t, conf, filepath.Join("testdata", "seed-rules.v4"))
	want(t, fs, conf, 2, CheckWeakSequence, "30123,45211,60010")
	want(t, fs, conf, 8, CheckWeakSequence, "4000,5000,6000")
	want(t, fs, conf, 1, CheckNoClose, "[openSSH]")
	want(t, fs, conf, 7, CheckNoClose, "[openUDP]")
	want(t, fs, conf, 4, CheckAppendedAccept, "behind the DROP")
}

func TestBad(t *testing.T) {
	conf, rules := filepath.Join("testdata", "bad.conf"), filepath.Join("testdata", "bad-rules.v4")
	fs := lintFiles(t, conf, rules)
	want(t, fs, conf, 7, CheckSeqTimeout, "1 s", "3 knocks")
	want(t, fs, conf, 8, CheckRawFlags, "fin,!ack", "raw sockets")
	want(t, fs, conf, 9, CheckRelativePath, `"iptables"`)
	want(t, fs, conf, 9, CheckIPv6Fallback)
	want(t, fs, conf, 13, CheckSeqTimeout, "7 knocks")
	want(t, fs, conf, 5, CheckNoClose, "[opendoor]")
	want(t, fs, filepath.Join("testdata", "otp.txt"), 3, CheckOTPLeadSpace, "leading space")
	want(t, fs, rules, 6, CheckNoEstablished, "after the DROP at line 5")
	if countCheck(fs, CheckOTPLeadSpace) != 1 {
		t.Error("the line with a leading space was reported")
	}
	if Problems(fs) == 0 {
		t.Error("no problems counted")
	}
}

func TestNoEstablishedNoDrop(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "k.conf")
	os.WriteFile(conf, []byte("[open]\n sequence = 31234,42345:udp,33456\n start_command = /usr/sbin/iptables -I INPUT -s %IP% -p tcp --dport 22 -j ACCEPT\n start_command_6 = /usr/sbin/ip6tables -I INPUT -s %IP% -p tcp --dport 22 -j ACCEPT\n stop_command = /usr/sbin/iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT\n stop_command_6 = /usr/sbin/ip6tables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT\n"), 0o600)
	rules := filepath.Join(t.TempDir(), "r.v4")
	os.WriteFile(rules, []byte("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport 22 -j DROP\nCOMMIT\n"), 0o600)
	fs := lintFiles(t, conf, rules)
	want(t, fs, rules, 3, CheckNoEstablished, "no ESTABLISHED")
	want(t, fs, conf, 0, CheckLogging, "syslog")
	if Problems(fs) != 1 {
		t.Errorf("%d problems, want 1", Problems(fs))
	}
	os.WriteFile(rules, []byte("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m conntrack --ctstate ESTABLISHED -j ACCEPT\nCOMMIT\n"), 0o600)
	fs = lintFiles(t, conf, rules)
	want(t, fs, rules, 2, CheckNotBlocked, "tcp/22")
	os.WriteFile(rules, []byte("*filter\n:INPUT DROP [0:0]\n-A INPUT -m conntrack --ctstate ESTABLISHED -j ACCEPT\nCOMMIT\n"), 0o600)
	if fs = lintFiles(t, conf, rules); Problems(fs) != 0 {
		t.Errorf("clean setup: %d problems", Problems(fs))
	}
}

func TestSyntaxFindings(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "k.conf")
	os.WriteFile(conf, []byte("[door]\n sequence = 31234,99999\n bogus = 1\n"), 0o600)
	rules := filepath.Join(t.TempDir(), "r.v4")
	os.WriteFile(rules, []byte("-A INPUT -j DROP\n*filter\n:INPUT ACCEPT\nwhat\n"), 0o600)
	fs := lintFiles(t, conf, rules)
	want(t, fs, conf, 2, CheckSyntax, "invalid port")
	want(t, fs, conf, 3, CheckSyntax, "bogus")
	want(t, fs, rules, 1, CheckSyntax, "outside a table")
	want(t, fs, rules, 4, CheckSyntax, "unexpected line")
}

func TestFindingString(t *testing.T) {
	f := Finding{File: "k.conf", Line: 7, Check: CheckAppendedAccept, Message: "door [x]: appends"}
	if got := f.String(); got != "k.conf:7: door [x]: appends (appended-accept)" {
		t.Errorf("String() = %q", got)
	}
	f.Note, f.Line = true, 0
	if got := f.String(); got != "k.conf: note: door [x]: appends (appended-accept)" {
		t.Errorf("String() = %q", got)
	}
}
