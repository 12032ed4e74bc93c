//go:build linux

package serverconf

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/a-knock/knock/internal/lab"
)

// TestLabServerConfig generates a profile, feeds its server-config to the
// real knockd with real iptables (or nftables) in the server namespace and
// a listener on the guarded port, and checks that `knock NAME` opens the
// port and `knock close NAME` closes it, over IPv4 and IPv6. It then lints
// the files knockd and iptables actually use with `knock doctor`, and runs
// `knock doctor NAME --knock` in the client namespace.
func TestLabServerConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: lab test: namespaces and real daemons")
	}
	lab.Require(t, "knockd", "iptables", "nft")
	for _, fw := range []string{"iptables", "nftables"} {
		t.Run(fw, func(t *testing.T) { labFirewall(t, fw) })
	}
}

// TestLabServerConfigTimed checks --style timed: the port closes by itself
// after --open-for seconds, without a close knock.
func TestLabServerConfigTimed(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: lab test: namespaces and real daemons")
	}
	lab.Require(t, "knockd", "iptables", "nft")
	for _, fw := range []string{"iptables", "nftables"} {
		t.Run(fw, func(t *testing.T) {
			l, knock := labClient(t)
			mustOK(t, knock("profile", "add", "web", "--host", lab.ServerIP4.String(), "--generate", "--wait-port", "22", "--store", "file"))
			conf := mustOK(t, knock("profile", "server-config", "web", "--firewall", fw, "--style", "timed", "--open-for", "2", "--part", "knockd")).Stdout
			rules := mustOK(t, knock("profile", "server-config", "web", "--firewall", fw, "--part", "firewall")).Stdout
			loadFirewall(t, l, fw, rules)
			l.ListenTCP(t, l.Server, "[::]:22")
			kd := l.Knockd(t, conf)
			if r := knock("web"); r.Code != 0 || !reachable(l, lab.ServerIP4) {
				t.Fatalf("knock web: exit %d, port not open\nknockd:\n%s", r.Code, kd.Log())
			}
			if !lab.WaitFor(10*time.Second, func() bool { return !reachable(l, lab.ServerIP4) }) {
				t.Fatalf("tcp/22 still open 10 s after a 2 s timed door\nknockd:\n%s", kd.Log())
			}
		})
	}
}

// labClient returns a new lab and a function that runs the knock binary in
// its client namespace with a private home: file store, no keyring, an
// empty ssh_config.
func labClient(t *testing.T) (*lab.Lab, func(args ...string) lab.Result) {
	l := lab.New(t)
	home := t.TempDir()
	sshConfig := filepath.Join(home, "ssh_config")
	if err := os.WriteFile(sshConfig, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + home, "DBUS_SESSION_BUS_ADDRESS=", "KNOCK_SSH_CONFIG=" + sshConfig}
	return l, func(args ...string) lab.Result {
		t.Helper()
		r := l.RunIn(t, l.Client, env, lab.KnockBinary(t), args...)
		t.Logf("knock %s: exit %d\n%s%s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
		return r
	}
}

func mustOK(t *testing.T, r lab.Result) lab.Result {
	t.Helper()
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	return r
}

// loadFirewall loads the firewall part as the admin would: a shell script
// for iptables, nft -f (after nft -c) for nftables.
func loadFirewall(t *testing.T, l *lab.Lab, fw, rules string) {
	t.Helper()
	rulesFile := filepath.Join(l.Dir, "firewall")
	if err := os.WriteFile(rulesFile, []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	if fw == "nftables" {
		nft, _ := lab.LookPath("nft")
		l.MustExec(t, l.Server, nft, "-c", "-f", rulesFile)
		l.MustExec(t, l.Server, nft, "-f", rulesFile)
		return
	}
	l.MustExec(t, l.Server, "/bin/sh", "-e", rulesFile)
}

func labFirewall(t *testing.T, fw string) {
	l, knock := labClient(t)
	must := func(args ...string) lab.Result {
		t.Helper()
		return mustOK(t, knock(args...))
	}

	must("profile", "add", "web", "--host", lab.ServerIP4.String(), "--generate", "--length", "5", "--proto", "mixed", "--wait-port", "22", "--store", "file")
	conf := must("profile", "server-config", "web", "--firewall", fw, "--part", "knockd").Stdout
	rules := must("profile", "server-config", "web", "--firewall", fw, "--part", "firewall").Stdout
	all := must("profile", "server-config", "web", "--firewall", fw).Stdout
	if !strings.Contains(all, conf) || !strings.Contains(all, rules) {
		t.Fatal("--part all is not the two parts together")
	}

	// The base firewall, as the admin would load it.
	loadFirewall(t, l, fw, rules)
	l.ListenTCP(t, l.Server, "[::]:22")
	kd := l.Knockd(t, conf)

	for _, fam := range []struct {
		flag string
		addr netip.Addr
	}{{"-4", lab.ServerIP4}, {"-6", lab.ServerIP6}} {
		must("profile", "edit", "web", "--host", fam.addr.String())
		if reachable(l, fam.addr) {
			t.Fatalf("%s: tcp/22 open before the knock", fam.flag)
		}
		if r := knock(fam.flag, "web"); r.Code != 0 {
			t.Fatalf("knock %s web: exit %d: %s\nknockd:\n%s", fam.flag, r.Code, r.Stderr, kd.Log())
		}
		if !reachable(l, fam.addr) {
			t.Fatalf("%s: tcp/22 not open after knock web\nknockd:\n%s", fam.flag, kd.Log())
		}
		if r := knock("close", fam.flag, "web"); r.Code != 0 {
			t.Fatalf("knock close %s web: exit %d: %s", fam.flag, r.Code, r.Stderr)
		}
		if !lab.WaitFor(5*time.Second, func() bool { return !reachable(l, fam.addr) }) {
			t.Fatalf("%s: tcp/22 still open after knock close web\nknockd:\n%s", fam.flag, kd.Log())
		}
	}

	must("profile", "edit", "web", "--host", lab.ServerIP4.String())

	// The doctor finds nothing wrong with the files in use ...
	args := []string{"doctor", "--server-config", kd.Conf}
	if fw == "iptables" {
		ipts, _ := lab.LookPath("iptables-save")
		dump := filepath.Join(l.Dir, "rules.v4")
		if err := os.WriteFile(dump, []byte(l.MustExec(t, l.Server, ipts)), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--rules", dump)
	}
	if r := knock(args...); r.Code != 0 || !strings.Contains(r.Stdout, "knock doctor: no problems") {
		t.Errorf("doctor on the generated files: exit %d\n%s", r.Code, r.Stdout)
	}
	// ... and sees the port open and close from the client.
	r := knock("doctor", "web", "--knock")
	if r.Code != 0 {
		t.Fatalf("knock doctor web --knock: exit %d", r.Code)
	}
	for _, want := range []string{"ok    guarded port: tcp/22", "ok    knock: tcp/22 on 198.51.100.2 opened", "ok    close: tcp/22 closed again", "ok    knock ports:"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("doctor output lacks %q", want)
		}
	}
}

// reachable reports whether a TCP connection from the client namespace to
// addr:22 succeeds within a second.
func reachable(l *lab.Lab, addr netip.Addr) bool {
	ok := false
	_ = lab.InNamespace(l.Client, func() error {
		c, err := net.DialTimeout("tcp", netip.AddrPortFrom(addr, 22).String(), time.Second)
		if err == nil {
			ok = true
			c.Close()
		}
		return nil
	})
	return ok
}
