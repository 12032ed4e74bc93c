package serverconf

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/a-knock/knock/internal/knockdconf"
	"github.com/a-knock/knock/internal/seq"
)

func mustSeq(t *testing.T, s string) seq.Sequence {
	t.Helper()
	sq, err := seq.Parse(seq.TCP, s)
	if err != nil {
		t.Fatal(err)
	}
	return sq
}

func render(t *testing.T, c Config, part Part) string {
	t.Helper()
	var b strings.Builder
	if err := Render(&b, c, part); err != nil {
		t.Fatalf("Render: %v", err)
	}
	return b.String()
}

// TestKnockdParses feeds every variant to the knockd.conf parser: the doors
// must parse with knockd's rules and say what the profile says.
func TestKnockdParses(t *testing.T) {
	open := mustSeq(t, "31415,27182:udp,44321")
	for _, fw := range []Firewall{IPTables, NFTables} {
		for _, st := range []Style{Pair, Timed} {
			t.Run(string(fw)+"-"+string(st), func(t *testing.T) {
				c := Config{Name: "my@server", Open: open, Firewall: fw, Style: st, Port: 2222}
				out := render(t, c, PartKnockd)
				t.Logf("\n%s", out)
				conf, err := knockdconf.Parse("gen.conf", strings.NewReader("[options]\n UseSyslog\n"+out))
				if err != nil {
					t.Fatalf("knockd part does not parse: %v", err)
				}
				if len(conf.Doors) != 2 {
					t.Fatalf("%d doors, want 2", len(conf.Doors))
				}
				o, cl := conf.Doors[0], conf.Doors[1]
				if o.Sequence.String() != open.String() || cl.Sequence.String() != open.Reverse().String() {
					t.Errorf("sequences %s / %s", o.Sequence, cl.Sequence)
				}
				if o.TCPFlags.String() != DefaultTCPFlags || o.TCPFlags.NeedsRaw() {
					t.Errorf("tcpflags %q", o.TCPFlags)
				}
				if o.SeqTimeout < MinSeqTimeout(len(open)) {
					t.Errorf("seq_timeout %s below minimum", o.SeqTimeout)
				}
				for _, cmd := range []string{o.StartCommand, o.StartCommand6, cl.StartCommand, cl.StartCommand6, o.StopCommand, o.StopCommand6} {
					if cmd == "" {
						continue
					}
					if !strings.HasPrefix(cmd, "/usr/sbin/") || !strings.Contains(cmd, "%IP%") {
						t.Errorf("command %q: want absolute path and %%IP%%", cmd)
					}
					if strings.Contains(cmd, " -A ") {
						t.Errorf("command %q appends", cmd)
					}
				}
				if fw == IPTables {
					if !strings.Contains(o.StartCommand, "/usr/sbin/iptables -w -I INPUT -s %IP% -p tcp --dport 2222 -j ACCEPT") ||
						!strings.Contains(o.StartCommand6, "/usr/sbin/ip6tables -w -I INPUT") ||
						!strings.Contains(cl.StartCommand, "/usr/sbin/iptables -w -D INPUT -s %IP% -p tcp --dport 2222 -j ACCEPT") {
						t.Errorf("iptables commands: %q / %q / %q", o.StartCommand, o.StartCommand6, cl.StartCommand)
					}
				} else if !strings.Contains(o.StartCommand, "nft add element inet knock_my_server allow4 { %IP% timeout") {
					t.Errorf("nft command %q", o.StartCommand)
				}
				timed := st == Timed && fw == IPTables
				if (o.StopCommand != "") != timed || (o.CmdTimeout == DefaultTimedOpen) != timed {
					t.Errorf("style %s: stop_command %q cmd_timeout %s", st, o.StopCommand, o.CmdTimeout)
				}
			})
		}
	}
}

func TestFirewallOrder(t *testing.T) {
	c := Config{Name: "s", Open: mustSeq(t, "31415,27182,44321")}
	out := render(t, c, PartFirewall)
	est := strings.Index(out, "/usr/sbin/iptables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT")
	drop := strings.Index(out, "/usr/sbin/iptables -A INPUT -p tcp --dport 22 -j DROP")
	est6 := strings.Index(out, "/usr/sbin/ip6tables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT")
	drop6 := strings.Index(out, "/usr/sbin/ip6tables -A INPUT -p tcp --dport 22 -j DROP")
	if est < 0 || drop < est || est6 < 0 || drop6 < est6 {
		t.Fatalf("base rules missing or out of order:\n%s", out)
	}
	if !strings.Contains(out, "WARNING: keep a second way in") {
		t.Error("no console warning")
	}
	all := render(t, c, PartAll)
	if !strings.Contains(all, "[knock-s-open]") || !strings.Contains(all, "--ctstate ESTABLISHED") {
		t.Error("part all lacks a part")
	}
	if strings.Contains(render(t, c, PartKnockd), "DROP") {
		t.Error("part knockd carries firewall rules")
	}
}

// TestNFTablesRender checks what the nftables part holds, and its order.
func TestNFTablesRender(t *testing.T) {
	out := render(t, nftConfig(t), PartFirewall)
	for _, want := range []string{"table inet knock_web_1", "flags timeout", "ct state established,related accept", "tcp dport 443 ip saddr @allow4 accept", "tcp dport 443 drop"} {
		if !strings.Contains(out, want) {
			t.Errorf("nft part lacks %q", want)
		}
	}
	if strings.Index(out, "ct state established") > strings.Index(out, "tcp dport 443 drop") {
		t.Error("established after drop")
	}
}

func nftConfig(t *testing.T) Config {
	return Config{Name: "web-1", Open: mustSeq(t, "31415,27182:udp,44321"), Firewall: NFTables, Port: 443}
}

func TestInvalid(t *testing.T) {
	open := mustSeq(t, "31415,27182,44321")
	for name, c := range map[string]Config{
		"no open":        {Name: "x"},
		"close==open":    {Name: "x", Open: open, Close: open},
		"guarded knocks": {Name: "x", Open: open, Port: 27182},
		"firewall":       {Name: "x", Open: open, Firewall: "pf"},
		"style":          {Name: "x", Open: open, Style: "lazy"},
		"sbin":           {Name: "x", Open: open, Sbin: "sbin"},
		"open for":       {Name: "x", Open: open, OpenFor: 1500 * time.Millisecond},
	} {
		if err := Render(new(strings.Builder), c, PartAll); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err %v, want ErrInvalid", name, err)
		}
	}
	if err := Render(new(strings.Builder), Config{Name: "x", Open: open}, "both"); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad part: %v", err)
	}
}

func TestMinSeqTimeout(t *testing.T) {
	for n, want := range map[int]time.Duration{1: 2 * time.Second, 3: 2 * time.Second, 4: 2 * time.Second, 5: 3 * time.Second, 32: 9 * time.Second} {
		if got := MinSeqTimeout(n); got != want {
			t.Errorf("MinSeqTimeout(%d) = %s, want %s", n, got, want)
		}
		if SeqTimeoutFor(n) < MinSeqTimeout(n) {
			t.Errorf("SeqTimeoutFor(%d) below minimum", n)
		}
	}
}
