//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/a-knock/knock/internal/lab"
	"github.com/a-knock/knock/internal/spa"
)

// spaLab is a lab with the seed firewall (tcp/22 dropped), a real sshd and
// a real fwknopd that opens tcp/22 for 30 seconds.
type spaLab struct {
	*lab.Lab
	fw         *lab.Fwknopd
	sshd       *lab.Sshd
	key, hmac  string // base64 keys of the server's access.conf
	env        []string
	dir        string
	sshEnabled bool
}

func newSPALab(t *testing.T, withSSH bool) *spaLab {
	t.Helper()
	lab.Require(t, "fwknopd", "iptables", "ip6tables")
	if withSSH {
		lab.Require(t, "sshd", "ssh", "ssh-keygen")
	}
	l := lab.New(t)
	l.SeedFirewall(t)
	keys, err := spa.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	s := &spaLab{Lab: l, sshEnabled: withSSH}
	s.key, s.hmac = keys.Base64()
	if withSSH {
		s.sshd = l.Sshd(t)
	} else {
		l.ListenTCP(t, l.Server, lab.ServerIP4.String()+":22")
	}
	s.fw = l.Fwknopd(t, lab.FwknopAccess(s.key, s.hmac, "tcp/22", 30))
	s.dir = t.TempDir()
	s.env = []string{"HOME=" + s.dir, "XDG_CONFIG_HOME=" + s.dir, "XDG_RUNTIME_DIR=" + s.dir, "DBUS_SESSION_BUS_ADDRESS="}
	return s
}

// writeRC writes an fwknoprc with the given stanzas after a [default]
// that sets the lab server's port.
func (s *spaLab) writeRC(t *testing.T, stanzas ...string) string {
	t.Helper()
	rc := "# written by the test\n[default]\nSPA_SERVER_PORT 62201\nFW_TIMEOUT 30\n\n" + strings.Join(stanzas, "\n")
	path := filepath.Join(s.dir, ".fwknoprc")
	if err := os.WriteFile(path, []byte(rc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func spaStanza(name, key, hmac string) string {
	return fmt.Sprintf("[%s]\nSPA_SERVER %s\nACCESS tcp/22\nALLOW_IP source\nKEY_BASE64 %s\nHMAC_KEY_BASE64 %s\nUSE_HMAC Y\n",
		name, lab.ServerIP4, key, hmac)
}

func (s *spaLab) knock(t *testing.T, args ...string) lab.Result {
	t.Helper()
	return s.RunIn(t, s.Client, s.env, lab.KnockBinary(t), args...)
}

// fwknopRules lists the ACCEPT rules fwknopd holds in its chain.
func (s *spaLab) fwknopRules(t *testing.T) []string {
	t.Helper()
	ipt, _ := lab.LookPath("iptables")
	out, _ := s.Exec(s.Server, ipt, "-w", "-S", "FWKNOP_INPUT")
	var rules []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "-j ACCEPT") {
			rules = append(rules, line)
		}
	}
	return rules
}

func (s *spaLab) flushRules(t *testing.T) {
	t.Helper()
	ipt, _ := lab.LookPath("iptables")
	s.MustExec(t, s.Server, ipt, "-w", "-F", "FWKNOP_INPUT")
}

// TestSPALabFwknopClient checks the lab itself with the real fwknop client,
// and that fwknopd decodes knock's packet into the same fields.
func TestSPALabFwknopClient(t *testing.T) {
	lab.Require(t, "fwknop")
	s := newSPALab(t, false)
	fwknop, _ := lab.LookPath("fwknop")
	// The client reads its keys from an rc file, never from argv.
	rc := s.writeRC(t, spaStanza("lab", s.key, s.hmac))
	r := s.RunIn(t, s.Client, s.env, fwknop, "--rc-file", rc, "-n", "lab", "--no-save-args")
	if r.Code != 0 {
		t.Fatalf("fwknop: %d %s %s", r.Code, r.Stdout, r.Stderr)
	}
	if !s.fw.WaitCount("Added access rule", 1, 5*time.Second) {
		t.Fatalf("fwknopd did not open for the fwknop client:\n%s", s.fw.Log())
	}
	s.flushRules(t)
	keyFile := filepath.Join(s.dir, "keys")
	if err := os.WriteFile(keyFile, []byte(fmt.Sprintf("KEY_BASE64: %s\nHMAC_KEY_BASE64: %s\n", s.key, s.hmac)), 0o600); err != nil {
		t.Fatal(err)
	}
	r = s.knock(t, "spa", "send", lab.ServerIP4.String(), "-A", "tcp/22", "-a", lab.ClientIP4.String(), "--key-file", keyFile, "--user", "alice", "--fw-timeout", "20", "--wait", "22")
	if r.Code != 0 {
		t.Fatalf("knock spa send: %d %s\n%s", r.Code, r.Stderr, s.fw.Log())
	}
	log := s.fw.Log()
	for _, want := range []string{"Username: alice", "Message Type: 3 (Client timeout access msg)", "Message String: " + lab.ClientIP4.String() + ",tcp/22", "Client Timeout: 20", "HMAC Type: 3 (SHA256)"} {
		if !strings.Contains(log, want) {
			t.Errorf("fwknopd log lacks %q", want)
		}
	}
	if s.fw.Count("Added access rule") < 2 || t.Failed() {
		t.Fatalf("fwknopd did not open for knock:\n%s", log)
	}
	// NAT access: fwknopd decodes the request (and refuses it, as this
	// stanza grants no forwarding).
	r = s.knock(t, "spa", "send", lab.ServerIP4.String(), "-A", "tcp/22", "--key-file", keyFile, "--nat-access", "10.0.0.5,2222")
	if r.Code != 0 || !s.fw.WaitCount("Nat Access: 10.0.0.5,2222", 1, 5*time.Second) {
		t.Fatalf("NAT access request: exit %d %s\n%s", r.Code, r.Stderr, s.fw.Log())
	}
	// A time offset moves the timestamp: five minutes back is too old for
	// fwknopd (120 s), so nothing opens.
	s.flushRules(t)
	r = s.knock(t, "spa", "send", lab.ServerIP4.String(), "-A", "tcp/22", "--key-file", keyFile, "--time-offset", "-5min", "--wait", "22", "--timeout", "2", "--retries", "0")
	if r.Code != exitFailure || len(s.fwknopRules(t)) != 0 {
		t.Fatalf("a packet five minutes old: exit %d, rules %q\n%s", r.Code, s.fwknopRules(t), r.Stderr)
	}
	if !strings.Contains(s.fw.Log(), "time difference") {
		t.Fatalf("fwknopd did not refuse the packet for its age:\n%s", s.fw.Log())
	}
}

// TestSPALabImportedProfile: an fwknoprc stanza imported as a profile
// opens the port; a second send right after opens again (a fresh packet,
// not a replay); knock ssh gets through; a wrong HMAC key opens nothing and
// --wait says so with exit code 1.
func TestSPALabImportedProfile(t *testing.T) {
	s := newSPALab(t, true)
	wrong, err := spa.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	_, wrongHMAC := wrong.Base64()
	rc := s.writeRC(t, spaStanza("lab4", s.key, s.hmac), spaStanza("badhmac", s.key, wrongHMAC))
	r := s.knock(t, "profile", "import", rc, "--store", "file")
	if r.Code != 0 {
		t.Fatalf("import: %d %s", r.Code, r.Stderr)
	}
	if !strings.Contains(r.Stderr, `imported profile "lab4" (spa)`) {
		t.Fatalf("import output: %s", r.Stderr)
	}
	if rules := s.fwknopRules(t); len(rules) != 0 {
		t.Fatalf("open before any packet: %q", rules)
	}

	t.Run("opens", func(t *testing.T) {
		r := s.knock(t, "lab4", "--wait", "22", "-v")
		if r.Code != 0 {
			t.Fatalf("knock lab4: %d %s\n%s", r.Code, r.Stderr, s.fw.Log())
		}
		if len(s.fwknopRules(t)) != 1 {
			t.Fatalf("want one fwknopd rule, have %q", s.fwknopRules(t))
		}
	})
	t.Run("second send is no replay", func(t *testing.T) {
		// Close the door behind fwknopd's back: only a packet it accepts
		// again can reopen it.
		s.flushRules(t)
		before := s.fw.Count("Added access rule")
		r := s.knock(t, "lab4", "--wait", "22")
		if r.Code != 0 {
			t.Fatalf("second knock: %d %s\n%s", r.Code, r.Stderr, s.fw.Log())
		}
		if s.fw.Count("Added access rule") != before+1 || strings.Contains(strings.ToLower(s.fw.Log()), "replay") {
			t.Fatalf("fwknopd did not accept the second packet as new:\n%s", s.fw.Log())
		}
	})
	t.Run("knock ssh", func(t *testing.T) {
		s.flushRules(t)
		r := s.knock(t, "--ssh-config", s.sshd.ClientConf, "ssh", "lab4", "--", "echo", "hello")
		if r.Code != 0 || strings.TrimSpace(r.Stdout) != "hello" {
			t.Fatalf("knock ssh: %d %q %s\nfwknopd:\n%s", r.Code, r.Stdout, r.Stderr, s.fw.Log())
		}
	})
	t.Run("knock proxy", func(t *testing.T) {
		s.flushRules(t)
		ssh, err := lab.LookPath("ssh")
		if err != nil {
			t.Fatal(err)
		}
		proxy := "ProxyCommand=" + lab.KnockBinary(t) + " proxy %n %p"
		r := s.RunIn(t, s.Client, s.env, ssh, "-F", s.sshd.ClientConf, "-o", proxy, "lab4", "echo", "hello")
		if r.Code != 0 || strings.TrimSpace(r.Stdout) != "hello" {
			t.Fatalf("ssh via knock proxy: %d %q %s\nfwknopd:\n%s", r.Code, r.Stdout, r.Stderr, s.fw.Log())
		}
		if len(s.fwknopRules(t)) != 1 {
			t.Fatalf("want one fwknopd rule, have %q", s.fwknopRules(t))
		}
	})
	t.Run("wrong hmac key", func(t *testing.T) {
		s.flushRules(t)
		added := s.fw.Count("Added access rule")
		r := s.knock(t, "badhmac", "--wait", "22", "--timeout", "3", "--retries", "1")
		if r.Code != exitFailure {
			t.Fatalf("knock badhmac: exit %d, want %d: %s", r.Code, exitFailure, r.Stderr)
		}
		if !strings.Contains(r.Stderr, "port did not open") || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 {
			t.Fatalf("want one line naming the failure, got:\n%s", r.Stderr)
		}
		if rules := s.fwknopRules(t); len(rules) != 0 || s.fw.Count("Added access rule") != added {
			t.Fatalf("a wrong HMAC key opened the door: %q\n%s", rules, s.fw.Log())
		}
		// The packets arrived and fwknopd refused them for their HMAC.
		if n := s.fw.Count("HMAC_COMPAREFAIL"); n != 2 {
			t.Fatalf("fwknopd refused %d packet(s) for their HMAC, want 2:\n%s", n, s.fw.Log())
		}
	})
}

// TestSPALabTCP sends over TCP to an fwknopd whose TCP server completes
// the handshake and whose filter sees the segment with the packet.
func TestSPALabTCP(t *testing.T) {
	lab.Require(t, "fwknopd", "iptables", "ip6tables")
	l := lab.New(t)
	l.SeedFirewall(t)
	l.ListenTCP(t, l.Server, lab.ServerIP4.String()+":22")
	keys, err := spa.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	k, h := keys.Base64()
	fw := l.Fwknopd(t, lab.FwknopAccess(k, h, "tcp/22", 30),
		"ENABLE_TCP_SERVER Y;", "TCPSERV_PORT 62202;", "PCAP_FILTER tcp port 62202;")
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "keys")
	if err := os.WriteFile(keyFile, []byte(spaKeyFile(k, h)), 0o600); err != nil {
		t.Fatal(err)
	}
	r := l.RunIn(t, l.Client, []string{"HOME=" + dir}, lab.KnockBinary(t), "spa", "send", lab.ServerIP4.String(),
		"-A", "tcp/22", "--tcp", "--spa-port", "62202", "--key-file", keyFile, "--wait", "22")
	if r.Code != 0 {
		t.Fatalf("knock spa send --tcp: %d %s\n%s", r.Code, r.Stderr, fw.Log())
	}
	if fw.Count("Added access rule") != 1 {
		t.Fatalf("fwknopd did not open:\n%s", fw.Log())
	}
}

func spaKeyFile(k, h string) string {
	return "KEY_BASE64: " + k + "\nHMAC_KEY_BASE64: " + h + "\n"
}
