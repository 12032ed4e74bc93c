package doctor

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseRulesSeed(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "seed-rules.v4"))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := ParseRules("rules.v4", strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	f := rs.Table("filter")
	if f == nil || f.Line != 2 || len(f.Chains) != 3 || len(f.Rules) != 2 {
		t.Fatalf("filter table: %+v", f)
	}
	if in := f.Chain("INPUT"); in == nil || in.Policy != "ACCEPT" || in.Line != 3 {
		t.Fatalf("INPUT chain: %+v", in)
	}
	est, drop := f.Rules[0], f.Rules[1]
	if est.Line != 6 || !est.Spec.HasState("ESTABLISHED") || est.Spec.Target != "ACCEPT" {
		t.Errorf("rule 1: %+v", est)
	}
	if drop.Line != 7 || !drop.Spec.Blocks(22) || drop.Spec.Blocks(2222) || est.Spec.Blocks(22) {
		t.Errorf("rule 2: %+v", drop)
	}
}

func TestSpec(t *testing.T) {
	for _, tc := range []struct {
		line   string
		blocks map[uint16]bool
	}{
		{`-A INPUT -p tcp -m tcp --dport 22 -j DROP`, map[uint16]bool{22: true, 23: false}},
		{`-A INPUT -p tcp -m multiport --dports 22,2000:2100 -j REJECT --reject-with tcp-reset`, map[uint16]bool{22: true, 2050: true, 2101: false}},
		{`-A INPUT -j DROP`, map[uint16]bool{22: true}},
		{`-A INPUT -p udp --dport 22 -j DROP`, map[uint16]bool{22: false}},
		{`-A INPUT -s 203.0.113.0/24 -p tcp --dport 22 -j DROP`, map[uint16]bool{22: false}},
		{`-A INPUT -p tcp -m tcp ! --dport 22 -j DROP`, map[uint16]bool{22: false}},
		{`-A INPUT -m conntrack --ctstate INVALID -j DROP`, map[uint16]bool{22: false}},
		{`-A INPUT -p tcp -m conntrack --ctstate NEW -m tcp --dport 22 -j DROP`, map[uint16]bool{22: true}},
		{`-A INPUT -p tcp --dport 22 -j ACCEPT`, map[uint16]bool{22: false}},
	} {
		w, err := splitWords(tc.line)
		if err != nil {
			t.Fatal(err)
		}
		s := parseSpec(w[2:])
		for p, want := range tc.blocks {
			if s.Blocks(p) != want {
				t.Errorf("%s: Blocks(%d) = %v, want %v (%+v)", tc.line, p, !want, want, s)
			}
		}
	}
}

func TestSplitWords(t *testing.T) {
	got, err := splitWords(`-A INPUT -m comment --comment "a \"b\" c" -j ACCEPT`)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"-A", "INPUT", "-m", "comment", "--comment", `a "b" c`, "-j", "ACCEPT"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q", got)
	}
	if _, err := splitWords(`-A INPUT --comment "open`); err == nil {
		t.Error("unterminated quote accepted")
	}
}

func TestParseRulesErrors(t *testing.T) {
	_, err := ParseRules("r", strings.NewReader("*filter\n:INPUT\n*nat\n"))
	var le *LineError
	if !errors.As(err, &le) || !errors.Is(err, ErrRulesSyntax) {
		t.Fatalf("err %v", err)
	}
	for _, frag := range []string{"r:2:", "r:3: ", "has no COMMIT"} {
		if !strings.Contains(err.Error(), frag) {
			t.Errorf("error %q lacks %q", err, frag)
		}
	}
}

func TestCommands(t *testing.T) {
	cmd := `PATH=/x /usr/sbin/iptables -C INPUT -s %IP% -p tcp --dport 22 -j ACCEPT 2>/dev/null || sudo iptables -t filter -I INPUT 1 -s %IP% -p tcp --dport 22 -j ACCEPT; echo done > /tmp/log`
	if rel := relativeProgs(cmd); !reflect.DeepEqual(rel, []string{"iptables"}) {
		t.Errorf("relativeProgs = %q", rel)
	}
	calls := firewallCalls(cmd)
	if len(calls) != 2 || calls[0].Op != "-C" || calls[1].Op != "-I" || calls[1].Chain != "INPUT" ||
		calls[1].Spec.Target != "ACCEPT" || calls[1].Spec.DPorts[0] != "22" || calls[1].Spec.Source != "%IP%" {
		t.Errorf("firewallCalls = %+v", calls)
	}
	if !revokes("/sbin/iptables -D INPUT -s %IP% -j ACCEPT") || !revokes("/usr/sbin/nft delete element inet t s { %IP% }") || revokes("/sbin/iptables -I INPUT -j ACCEPT") {
		t.Error("revokes")
	}
}

// FuzzParseRules checks that no input crashes the parser and that every
// problem names a line inside the input.
func FuzzParseRules(f *testing.F) {
	for _, name := range []string{"seed-rules.v4", "bad-rules.v4"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add("*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp -m multiport --dports 1:65535 ! -s 10.0.0.0/8 -j REJECT\nCOMMIT\n")
	f.Add("-A\n*\n:\nCOMMIT\n\"\n")
	f.Fuzz(func(t *testing.T, s string) {
		rs, err := ParseRules("f", strings.NewReader(s))
		if rs == nil {
			t.Fatal("nil ruleset")
		}
		lines := strings.Count(s, "\n") + 1
		if err != nil {
			for _, e := range unjoin(err) {
				var le *LineError
				if !errors.As(e, &le) || le.Line < 1 || le.Line > lines+1 {
					t.Fatalf("error %v outside the input (%d lines)", e, lines)
				}
			}
		}
		for _, tb := range rs.Tables {
			for _, r := range tb.Rules {
				_ = r.Spec.Blocks(22)
				if r.Line < 1 || r.Line > lines {
					t.Fatalf("rule at line %d of %d", r.Line, lines)
				}
			}
		}
	})
}

// FuzzDoorCommand checks the shell-command analysis on arbitrary commands.
func FuzzDoorCommand(f *testing.F) {
	f.Add("/sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT")
	f.Add("iptables -C INPUT -j ACCEPT 2>/dev/null || iptables -I INPUT 1 -j ACCEPT; nft delete element inet t s { %IP% }")
	f.Add("sudo env X=1 >")
	f.Fuzz(func(t *testing.T, s string) {
		_ = relativeProgs(s)
		_ = revokes(s)
		for _, c := range firewallCalls(s) {
			_ = c.Spec.Blocks(22)
		}
	})
}
