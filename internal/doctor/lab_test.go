//go:build linux

package doctor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/a-knock/knock/internal/lab"
)

// TestLabSeedNeverOpens proves the doctor's main finding against the real
// knockd and iptables: with the seed tutorial's firewall and knockd.conf,
// verbatim, the door fires but its appended ACCEPT lands behind the DROP,
// so tcp/22 never opens; `knock doctor` on the server's own files says so.
func TestLabSeedNeverOpens(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: lab test: namespaces and real daemons")
	}
	lab.Require(t, "knockd", "iptables", "nft")
	l := lab.New(t)
	l.SeedFirewall(t)
	l.ListenTCP(t, l.Server, "[::]:22")
	conf, err := os.ReadFile(filepath.Join("testdata", "seed-knockd.conf"))
	if err != nil {
		t.Fatal(err)
	}
	kd := l.Knockd(t, string(conf))
	r := l.Knock(t, lab.ServerIP4.String(), "7000,8000,9000", "--wait", "22", "--timeout", "3", "--retries", "1")
	if r.Code != 1 {
		t.Fatalf("knock through the seed's door: exit %d, want 1 (port never opens)\n%s\nknockd:\n%s", r.Code, r.Stderr, kd.Log())
	}
	if !kd.WaitLog("openSSH: OPEN SESAME", 0) {
		t.Fatalf("the door did not fire, so this test proves nothing\nknockd:\n%s", kd.Log())
	}
	ipt, _ := lab.LookPath("iptables")
	if rules := l.MustExec(t, l.Server, ipt, "-S", "INPUT"); !strings.Contains(rules, "-s "+lab.ClientIP4.String()+"/32 -p tcp -m tcp --dport 22 -j ACCEPT") {
		t.Fatalf("no appended ACCEPT in the server's INPUT chain:\n%s", rules)
	}

	ipts, _ := lab.LookPath("iptables-save")
	dump := filepath.Join(l.Dir, "rules.v4")
	if err := os.WriteFile(dump, []byte(l.MustExec(t, l.Server, ipts)), 0o600); err != nil {
		t.Fatal(err)
	}
	r = l.RunIn(t, l.Server, nil, lab.KnockBinary(t), "doctor", "--server-config", kd.Conf, "--rules", dump)
	t.Logf("knock doctor:\n%s", r.Stdout)
	if r.Code != 1 || !strings.Contains(r.Stdout, "(appended-accept)") || !strings.Contains(r.Stdout, "behind the DROP at "+dump) ||
		!strings.Contains(r.Stdout, "7000,8000,9000") {
		t.Errorf("doctor on the live seed setup: exit %d, want 1 naming the append and the default sequence", r.Code)
	}
}
