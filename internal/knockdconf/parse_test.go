package knockdconf

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/a-knock/knock/internal/seq"
)

func TestServeConfParseSeedTutorial(t *testing.T) {
	c, err := ParseFile(filepath.Join("testdata", "seed-tutorial.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Options.UseSyslog || c.Options.Line["usesyslog"] != 2 {
		t.Errorf("UseSyslog = %v line %d", c.Options.UseSyslog, c.Options.Line["usesyslog"])
	}
	if len(c.Doors) != 2 {
		t.Fatalf("%d doors", len(c.Doors))
	}
	d := c.Doors[0]
	if d.Name != "openSSH" || d.Line != 4 || d.Sequence.String() != "7000:tcp,8000:tcp,9000:tcp" ||
		d.SeqTimeout != 5*time.Second || d.CmdTimeout != DefaultCmdTimeout || d.TCPFlags.String() != "syn" ||
		d.StartCommand != "/sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT" {
		t.Errorf("door 0 = %+v", d)
	}
	want := map[string]int{"sequence": 5, "seq_timeout": 6, "start_command": 7, "tcpflags": 8}
	for k, l := range want {
		if d.Lines[k] != l {
			t.Errorf("Lines[%s] = %d, want %d", k, d.Lines[k], l)
		}
	}
	if c.Doors[1].Sequence.String() != "9000:tcp,8000:tcp,7000:tcp" {
		t.Errorf("door 1 sequence %s", c.Doors[1].Sequence)
	}
	if len(c.Settings) != 9 {
		t.Errorf("%d settings", len(c.Settings))
	}
}

func TestServeConfParseTestdata(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.conf"))
	if len(files) < 3 {
		t.Fatalf("only %d testdata files", len(files))
	}
	for _, f := range files {
		if _, err := ParseFile(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestServeConfParseFields(t *testing.T) {
	c, err := ParseFile(filepath.Join("testdata", "man-page.conf"))
	if err != nil {
		t.Fatal(err)
	}
	d := c.Doors[2]
	if d.Sequence.String() != "2222:udp,3333:tcp,4444:udp" || d.TCPFlags != (seq.Flags{Set: seq.SYN | seq.ACK}) ||
		d.CmdTimeout != 5*time.Second || !strings.Contains(d.StopCommand, "-D INPUT") {
		t.Errorf("openClosePorts = %+v", d)
	}
	d = c.Doors[3]
	if d.OneTimeSequences != "/etc/knockd/smtp_sequences" || len(d.Sequence) != 0 ||
		d.TCPFlags != (seq.Flags{Set: seq.FIN, Unset: seq.ACK}) || d.StartCommand6 == "" || d.StopCommand6 == "" {
		t.Errorf("opencloseSMTP = %+v", d)
	}
	if c.Options.LogFile != "/var/log/knockd.log" || c.Options.Line["logfile"] != 3 {
		t.Errorf("options = %+v", c.Options)
	}
}

func TestServeConfParseAliasesAndCase(t *testing.T) {
	conf := "[options]\nINTERFACE = eth1\nPidFile=/run/k.pid\n[d]\nSEQUENCE=1:UDP, 2 ,3:tcp\nTimeout = 7\nCommand = a %IP%\ncommand_6 = b\nGATE = Open\nTarget = 198.51.100.2\n"
	c, err := Parse("x.conf", strings.NewReader(conf))
	if err != nil {
		t.Fatal(err)
	}
	d := c.Doors[0]
	if c.Options.Interface != "eth1" || c.Options.PidFile != "/run/k.pid" || d.Sequence.String() != "1:udp,2:tcp,3:tcp" ||
		d.SeqTimeout != 7*time.Second || d.StartCommand != "a %IP%" || d.StartCommand6 != "b" || d.Gate != GateOpen ||
		d.Target != "198.51.100.2" || d.Lines["seq_timeout"] != 6 || d.Lines["start_command"] != 7 {
		t.Errorf("got %+v %+v", c.Options, d)
	}
}

func TestServeConfParseErrors(t *testing.T) {
	tests := []struct {
		name, conf string
		want       string // first error, exactly
		count      int
	}{
		{"unknown key", "[d]\nsequence = 1\nfoo = bar\n", `k.conf:3: foo: unknown key in door [d]`, 1},
		{"unknown option", "[options]\nverbose = 1\n", `k.conf:2: verbose: unknown key in [options]`, 1},
		{"outside section", "sequence = 1,2\n[d]\nsequence=1\n", `k.conf:1: sequence: setting outside any section`, 1},
		{"port range", "[d]\nsequence = 7000,70000\n", `k.conf:2: sequence: invalid port "70000" (want 1..65535)`, 1},
		{"port zero", "[d]\nsequence = 0\n", `k.conf:2: sequence: invalid port "0"`, 1},
		{"bad proto", "[d]\nsequence = 7000:icmp\n", `k.conf:2: sequence: knock "7000:icmp": invalid protocol`, 1},
		{"unknown flag", "[d]\nsequence = 1\ntcpflags = syn,xmas\n", `k.conf:3: tcpflags: unknown TCP flag "xmas"`, 1},
		{"bad timeout", "[d]\nsequence = 1\nseq_timeout = 5s\n", `k.conf:3: seq_timeout: invalid timeout "5s"`, 1},
		{"negative cmd timeout", "[d]\nsequence = 1\ncmd_timeout = -1\n", `k.conf:3: cmd_timeout: invalid timeout "-1"`, 1},
		{"no equals", "[d]\nsequence 7000\n", `k.conf:2: sequence 7000: missing "="`, 2},
		{"empty section", "[]\n", `k.conf:1: empty section name []`, 1},
		{"bad header", "[d\nsequence = 1\n", `k.conf:1: malformed section header "[d"`, 2},
		{"no sequence", "[d]\ncommand = x\n", `k.conf:1: door [d] has no sequence`, 1},
		{"usesyslog value", "[options]\nusesyslog = yes\n", `k.conf:2: usesyslog: takes no value`, 1},
		{"option in door", "[Options]\nlogfile = /x\n", `k.conf:2: logfile: belongs in [options], not in door [Options]`, 2},
		{"door key in options", "[options]\nsequence = 1\n", `k.conf:2: sequence: door setting in [options]`, 1},
		{"bad gate", "[d]\nsequence = 1\ngate = ajar\n", `k.conf:3: gate: invalid gate action "ajar"`, 1},
		{"too long", "[d]\nsequence = " + strings.Repeat("1,", 32) + "1\n", `k.conf:2: sequence: sequence has 33 knocks`, 1},
		{"many", "[d]\nsequence = 99999\nfoo = 1\nbar\n", `k.conf:2: sequence: invalid port "99999" (want 1..65535) (and 2 more problems)`, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("k.conf", strings.NewReader(tc.conf))
			if err == nil {
				t.Fatal("no error")
			}
			if c == nil {
				t.Fatal("nil Config with error")
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error\n  %s\nwant prefix\n  %s", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("multi-line error %q", err)
			}
			var list Errors
			if !errors.As(err, &list) || len(list) != tc.count {
				t.Errorf("got %d problems, want %d: %v", len(list), tc.count, list)
			}
			if !errors.Is(err, ErrSyntax) {
				t.Error("not ErrSyntax")
			}
		})
	}
}

func TestServeConfParseFileMissing(t *testing.T) {
	_, err := ParseFile(filepath.Join(t.TempDir(), "nope.conf"))
	if err == nil || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "nope.conf") {
		t.Fatalf("err = %v", err)
	}
}

func TestServeConfParseCRLFAndBOM(t *testing.T) {
	c, err := Parse("w.conf", strings.NewReader("\uFEFF[d]\r\n  sequence = 1,2\r\n"))
	if err != nil || c.Doors[0].Sequence.String() != "1:tcp,2:tcp" {
		t.Fatalf("%v %+v", err, c)
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.conf"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add("[d]\nsequence = 1:udp,2\ntcpflags = !syn,fin\n")
	f.Add("usesyslog\n[options]\n[]\n[x\n= 1\n")
	f.Fuzz(func(t *testing.T, conf string) {
		c, err := Parse("f.conf", strings.NewReader(conf))
		if c == nil {
			t.Fatal("nil Config")
		}
		lines := strings.Count(conf, "\n") + 1
		if err != nil {
			var list Errors
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error is not Errors: %v", err)
			}
			for _, e := range list {
				if e.Line < 1 || e.Line > lines+1 {
					t.Fatalf("line %d out of 1..%d: %v", e.Line, lines, e)
				}
			}
			return
		}
		for _, d := range c.Doors {
			if len(d.Sequence) == 0 && d.OneTimeSequences == "" {
				t.Fatalf("door %q accepted without a sequence", d.Name)
			}
			for _, k := range d.Sequence {
				if k.Port == 0 {
					t.Fatalf("port 0 accepted")
				}
			}
		}
	})
}
