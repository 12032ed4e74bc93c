//go:build linux

package lab

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Sshd is a real OpenSSH server running in the server namespace, with a
// generated host key and key-only login for root with a generated client
// key.
type Sshd struct {
	*Proc
	Dir        string // keys, configuration and known_hosts
	Conf       string // sshd_config
	ClientKey  string // private key of the client (IdentityFile)
	KnownHosts string // known_hosts naming the server's addresses and Aliases
	// ClientConf is an ssh_config for the client (ssh -F): a Host block for
	// each alias with HostName, User root, IdentityFile, UserKnownHostsFile
	// (strict checking) and BatchMode yes.
	ClientConf string
}

// SSHAliases are the Host names ClientConf defines: "lab4" for the
// server's IPv4 address and "lab6" for its IPv6 address.
var SSHAliases = map[string]string{"lab4": ServerIP4.String(), "lab6": ServerIP6.String()}

// Sshd starts sshd -D -e in the server namespace, listening on port 22 of
// both server addresses, and returns once it listens. extraConf lines are
// added to sshd_config.
func (l *Lab) Sshd(t testing.TB, extraConf ...string) *Sshd {
	t.Helper()
	Require(t, "sshd", "ssh", "ssh-keygen")
	sshd, _ := LookPath("sshd")
	keygen, _ := LookPath("ssh-keygen")
	dir, err := os.MkdirTemp(l.Dir, "sshd-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// OpenSSH's privilege separation needs this empty directory.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	hostKey := filepath.Join(dir, "ssh_host_ed25519_key")
	clientKey := filepath.Join(dir, "id_ed25519")
	for _, k := range []string{hostKey, clientKey} {
		if out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-C", "knock-lab", "-f", k).CombinedOutput(); err != nil {
			t.Fatalf("lab: ssh-keygen: %v: %s", err, out)
		}
	}
	pub := func(p string) string {
		b, err := os.ReadFile(p + ".pub")
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	authKeys := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authKeys, []byte(pub(clientKey)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "sshd_config")
	lines := []string{
		"Port 22",
		"ListenAddress " + ServerIP4.String(),
		"ListenAddress [" + ServerIP6.String() + "]",
		"HostKey " + hostKey,
		"PidFile none",
		"AuthorizedKeysFile " + authKeys,
		"PermitRootLogin prohibit-password",
		"PubkeyAuthentication yes",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"UsePAM no",
		"StrictModes no",
		"PrintMotd no",
		"PrintLastLog no",
		"UseDNS no",
		"AcceptEnv no",
		"Subsystem sftp internal-sftp",
		"LogLevel VERBOSE",
		// Tests open many connections at once (knock forward); sshd's
		// default 10:30:100 would turn some away.
		"MaxStartups 100",
	}
	lines = append(lines, extraConf...)
	if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The host key is known under every name a client may look it up by:
	// the addresses (ssh's default, and knock ssh's HostKeyAlias) and the
	// aliases.
	hostPub := pub(hostKey)
	fields := strings.Fields(hostPub)
	names := []string{ServerIP4.String(), ServerIP6.String()}
	for a := range SSHAliases {
		names = append(names, a)
	}
	knownHosts := filepath.Join(dir, "known_hosts")
	kh := strings.Join(names, ",") + " " + fields[0] + " " + fields[1] + "\n"
	if err := os.WriteFile(knownHosts, []byte(kh), 0o600); err != nil {
		t.Fatal(err)
	}
	var cc strings.Builder
	for _, a := range []string{"lab4", "lab6"} {
		fmt.Fprintf(&cc, "Host %s\n  HostName %s\n", a, SSHAliases[a])
	}
	fmt.Fprintf(&cc, `Host *
  User root
  IdentityFile %s
  IdentitiesOnly yes
  UserKnownHostsFile %s
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  CheckHostIP no
  UpdateHostKeys no
  BatchMode yes
  ConnectTimeout 10
  ServerAliveInterval 5
  LogLevel ERROR
`, clientKey, knownHosts)
	clientConf := filepath.Join(dir, "ssh_config")
	if err := os.WriteFile(clientConf, []byte(cc.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	p := l.Start(t, l.Server, sshd, "-D", "-e", "-f", conf)
	s := &Sshd{Proc: p, Dir: dir, Conf: conf, ClientKey: clientKey, KnownHosts: knownHosts, ClientConf: clientConf}
	if !WaitFor(10*time.Second, func() bool {
		out := p.Output()
		return strings.Count(out, "Server listening on") >= 2 || p.Exited()
	}) || p.Exited() {
		t.Fatalf("lab: sshd did not start:\n%s", p.Output())
	}
	return s
}

// SeedFirewall installs the seed tutorial's firewall in the server
// namespace for IPv4 (iptables) and IPv6 (ip6tables): established and
// related traffic accepted, then new connections to tcp/22 dropped. A door
// must insert (-I) its ACCEPT rule to get ahead of the DROP.
func (l *Lab) SeedFirewall(t testing.TB) {
	t.Helper()
	Require(t, "iptables", "ip6tables", "flock")
	for _, tool := range []string{"iptables", "ip6tables"} {
		bin, _ := LookPath(tool)
		l.MustExec(t, l.Server, bin, "-w", "-A", "INPUT", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT")
		l.MustExec(t, l.Server, bin, "-w", "-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "DROP")
	}
}

// AcceptRules returns the server's INPUT rules (iptables -S syntax) that
// accept traffic from the client's IPv4 or IPv6 address.
func (l *Lab) AcceptRules(t testing.TB) []string {
	t.Helper()
	var rules []string
	for _, c := range []struct{ tool, src string }{
		{"iptables", ClientIP4.String() + "/32"},
		{"ip6tables", ClientIP6.String() + "/128"},
	} {
		bin, _ := LookPath(c.tool)
		out := l.MustExec(t, l.Server, bin, "-w", "-S", "INPUT")
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, "-s "+c.src) && strings.Contains(line, "-j ACCEPT") {
				rules = append(rules, c.tool+" "+line)
			}
		}
	}
	return rules
}

// WaitNoAcceptRules waits up to timeout for the client's ACCEPT rules to
// be gone and returns those still there.
func (l *Lab) WaitNoAcceptRules(t testing.TB, timeout time.Duration) []string {
	t.Helper()
	var rules []string
	WaitFor(timeout, func() bool {
		rules = l.AcceptRules(t)
		return len(rules) == 0
	})
	return rules
}

// SSHDoors returns a knockd configuration whose door "openSSH" inserts an
// ACCEPT rule for the knocker's address in front of the seed's DROP and
// whose door "closeSSH" deletes it, for IPv4 and IPv6 knockers. open and
// close are knockd sequences; both doors use tcpflags = syn.
func SSHDoors(open, close string) string {
	ipt, ip6t := Firewall("iptables"), Firewall("ip6tables")
	rule := "INPUT -s %IP% -p tcp --dport 22 -j ACCEPT"
	return fmt.Sprintf(`[openSSH]
  sequence = %s
  seq_timeout = 5
  tcpflags = syn
  command = %s -I %s
  command_6 = %s -I %s

[closeSSH]
  sequence = %s
  seq_timeout = 5
  tcpflags = syn
  command = %s -D %s
  command_6 = %s -D %s
`, open, ipt, rule, ip6t, rule, close, ipt, rule, ip6t, rule)
}

// firewallLock serialises the firewall commands that the lab's doors run.
const firewallLock = "/run/knock-lab-firewall.lock"

// Firewall returns the command line a door runs tool (iptables or
// ip6tables) with: through flock, with -w. knockd runs each door's
// command as its own process, and two deletions of the same rule at once
// (a door opened in two rounds, then closed twice) can leave one behind
// on the nf_tables backend: the lock makes them take turns.
func Firewall(tool string) string {
	bin, _ := LookPath(tool)
	flock, _ := LookPath("flock")
	return flock + " " + firewallLock + " " + bin + " -w"
}
