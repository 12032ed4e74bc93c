//go:build linux

package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/a-knock/knock/internal/door"
	"github.com/a-knock/knock/internal/lab"
)

// End-to-end tests of knock ssh, knock proxy and `knock NAME && ssh NAME`
// against a real sshd behind the seed tutorial's firewall (established
// traffic accepted, new connections to 22 dropped) and a real knockd whose
// doors insert and delete the per-address ACCEPT rule. After every way
// out, the server must hold no ACCEPT rule for the client.

// Sequences of the lab's ssh doors.
const (
	sshOpenSeq  = "7000,8000,9000"
	sshCloseSeq = "9000,8000,7000"
)

// sshLab is a lab with the seed's firewall, knockd guarding ssh, a real
// sshd, and profiles lab4 and lab6 (ssh_config aliases of the server's
// IPv4 and IPv6 addresses) in a file store of the test's own.
type sshLab struct {
	*lab.Lab
	t    *testing.T
	kd   *lab.Knockd
	sshd *lab.Sshd
	env  []string
}

func newSSHLab(t *testing.T) *sshLab {
	t.Helper()
	lab.Require(t, "knockd", "sshd", "ssh", "iptables", "ip6tables")
	l := lab.New(t)
	l.SeedFirewall(t)
	s := &sshLab{Lab: l, t: t}
	s.sshd = l.Sshd(t)
	s.kd = l.Knockd(t, lab.SSHDoors(sshOpenSeq, sshCloseSeq))
	dir := t.TempDir()
	s.env = []string{"HOME=" + dir, "XDG_CONFIG_HOME=" + dir, "XDG_RUNTIME_DIR=" + dir,
		"DBUS_SESSION_BUS_ADDRESS=", "KNOCK_SSH_CONFIG=" + s.sshd.ClientConf}
	for _, name := range []string{"lab4", "lab6"} {
		s.mustKnock("profile", "add", name, "--open", sshOpenSeq, "--close", sshCloseSeq, "--store", "file")
	}
	return s
}

func (s *sshLab) knock(args ...string) lab.Result {
	s.t.Helper()
	return s.RunIn(s.t, s.Client, s.env, lab.KnockBinary(s.t), args...)
}

func (s *sshLab) mustKnock(args ...string) lab.Result {
	s.t.Helper()
	r := s.knock(args...)
	if r.Code != 0 {
		s.t.Fatalf("knock %s: exit %d\nstdout: %s\nstderr: %s\nknockd:\n%s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr, s.kd.Log())
	}
	return r
}

// ssh runs the system ssh in the client namespace with the lab's client
// configuration.
func (s *sshLab) ssh(args ...string) lab.Result {
	s.t.Helper()
	return s.RunIn(s.t, s.Client, s.env, lookTool(s.t, "ssh"), append([]string{"-F", s.sshd.ClientConf}, args...)...)
}

// proxyOpt is the ProxyCommand option that runs knock proxy.
func (s *sshLab) proxyOpt() string {
	return "ProxyCommand=" + lab.KnockBinary(s.t) + " proxy %n %p"
}

func lookTool(t *testing.T, name string) string {
	t.Helper()
	p, err := lab.LookPath(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// requireOpen checks that the server accepts the client. There may be
// more than one rule: the sender replays the sequence when the port is
// slow to open, and each completed round inserts one.
func (s *sshLab) requireOpen() {
	s.t.Helper()
	if rules := s.AcceptRules(s.t); len(rules) == 0 {
		s.t.Fatalf("no ACCEPT rule for the client\nknockd:\n%s", s.kd.Log())
	}
}

// closeByHand plays the close sequence to addr until the client's rules
// are gone, at most once per round a knock can play (--retries 12): a
// knock that was not closed by knock itself may have opened more than
// once.
func (s *sshLab) closeByHand(addr string) {
	s.t.Helper()
	for i := 0; i < door.DefaultRetries+1 && len(s.AcceptRules(s.t)) > 0; i++ {
		ok(s.t, "knock close by hand", s.knock(addr, sshCloseSeq), s)
		lab.WaitFor(2*time.Second, func() bool { return len(s.AcceptRules(s.t)) == 0 })
	}
}

// rounds reads how many rounds `knock -v` played from its stderr.
func rounds(t *testing.T, stderr string) int {
	t.Helper()
	m := regexp.MustCompile(`\((\d+) round\(s\)\)`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no round count in %q", stderr)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// requireClosed checks that the close sequence reached knockd and the
// client's ACCEPT rule is gone.
func (s *sshLab) requireClosed() {
	s.t.Helper()
	if rules := s.WaitNoAcceptRules(s.t, 10*time.Second); len(rules) > 0 {
		s.t.Fatalf("server still accepts the client:\n%s\nknockd log:\n%s", strings.Join(rules, "\n"), s.kd.Log())
	}
}

func ok(t *testing.T, what string, r lab.Result, s *sshLab) {
	t.Helper()
	if r.Code != 0 {
		t.Fatalf("%s: exit %d\nstdout: %s\nstderr: %s\nknockd:\n%s\nsshd:\n%s", what, r.Code, r.Stdout, r.Stderr, s.kd.Log(), s.sshd.Output())
	}
}

var sshFamilies = []struct{ name, addr string }{{"lab4", lab.ServerIP4.String()}, {"lab6", lab.ServerIP6.String()}}

func TestSSHLabSeedFirewall(t *testing.T) {
	s := newSSHLab(t)
	for _, c := range sshFamilies {
		t.Run(c.name, func(t *testing.T) {
			s.t = t
			if r := s.ssh("-o", "ConnectTimeout=1", c.name, "true"); r.Code == 0 {
				t.Fatal("ssh got through before the knock: the seed's DROP does not hold")
			}
			ok(t, "knock", s.knock(c.addr, sshOpenSeq, "--wait", "22"), s)
			s.requireOpen()
			ok(t, "ssh", s.ssh(c.name, "true"), s)
			s.closeByHand(c.addr)
			s.requireClosed()
		})
	}
}

func TestSSHKnockSSH(t *testing.T) {
	s := newSSHLab(t)
	for _, c := range sshFamilies {
		t.Run(c.name, func(t *testing.T) {
			s.t = t
			r := s.knock("ssh", c.name, "--", "echo", "hello from", "$SSH_CONNECTION")
			ok(t, "knock ssh", r, s)
			if !strings.HasPrefix(r.Stdout, "hello from ") || !strings.Contains(r.Stdout, c.addr) {
				t.Fatalf("stdout %q: want the remote echo over %s", r.Stdout, c.addr)
			}
			if strings.Contains(r.Stderr, "knock:") {
				t.Fatalf("unexpected diagnostics: %s", r.Stderr)
			}
			s.requireClosed()

			// A failing remote command: its exit code comes through and
			// the door is closed all the same.
			r = s.knock("ssh", c.name, "--", "exit", "7")
			if r.Code != 7 {
				t.Fatalf("knock ssh -- exit 7: exit %d, stderr %s", r.Code, r.Stderr)
			}
			s.requireClosed()

			// ssh options after NAME, without --.
			r = s.knock("ssh", c.name, "-o", "LogLevel=QUIET", "true")
			ok(t, "knock ssh NAME -o ...", r, s)
			s.requireClosed()
		})
	}
}

func TestSSHKnockThenSSH(t *testing.T) {
	s := newSSHLab(t)
	for _, c := range sshFamilies {
		t.Run(c.name, func(t *testing.T) {
			s.t = t
			// `knock NAME && ssh NAME`: exit 0 means the port accepts now.
			r := s.knock("-v", c.name)
			ok(t, "knock", r, s)
			s.requireOpen()
			n := rounds(t, r.Stderr)
			r = s.ssh("-o", "ConnectTimeout=2", c.name, "echo", "ok")
			ok(t, "ssh after knock", r, s)
			if strings.TrimSpace(r.Stdout) != "ok" {
				t.Fatalf("stdout %q", r.Stdout)
			}
			// One close per round: each completed round inserted a rule.
			for i := 0; i < n; i++ {
				ok(t, "knock close", s.knock("close", c.name), s)
			}
			s.requireClosed()
		})
	}
	t.Run("no wait port", func(t *testing.T) {
		s.t = t
		s.mustKnock("profile", "add", "bare", "--host", lab.ServerIP4.String(), "--open", sshOpenSeq, "--close", sshCloseSeq, "--store", "file")
		r := s.knock("bare")
		ok(t, "knock bare", r, s)
		if !strings.Contains(r.Stderr, "--wait") {
			t.Fatalf("no hint about --wait: %q", r.Stderr)
		}
		lab.WaitFor(5*time.Second, func() bool { return len(s.AcceptRules(t)) == 1 })
		s.requireOpen()
		ok(t, "knock close bare", s.knock("close", "bare"), s)
		s.requireClosed()
	})
}

func TestSSHProxyCommand(t *testing.T) {
	s := newSSHLab(t)
	for _, c := range sshFamilies {
		t.Run(c.name, func(t *testing.T) {
			s.t = t
			r := s.ssh("-o", s.proxyOpt(), c.name, "echo", "via proxy")
			ok(t, "ssh with ProxyCommand", r, s)
			if strings.TrimSpace(r.Stdout) != "via proxy" {
				t.Fatalf("stdout %q", r.Stdout)
			}
			s.requireClosed()

			r = s.ssh("-o", s.proxyOpt(), c.name, "exit 5")
			if r.Code != 5 {
				t.Fatalf("ssh -- exit 5 through the proxy: exit %d, %s", r.Code, r.Stderr)
			}
			s.requireClosed()
		})
	}
	// %h names the profile when one has the HostName's name.
	t.Run("percent h", func(t *testing.T) {
		s.t = t
		s.mustKnock("profile", "add", lab.ServerIP4.String(), "--open", sshOpenSeq, "--close", sshCloseSeq, "--store", "file")
		// -v: diagnostics on stderr must leave the relayed stream intact.
		r := s.ssh("-o", "ProxyCommand="+lab.KnockBinary(t)+" proxy -v %h %p", "lab4", "echo", "h")
		ok(t, "ssh with ProxyCommand %h", r, s)
		s.requireClosed()
	})
}

// TestSSHProxyTools runs scp, sftp, rsync and git through the ProxyCommand
// and checks that every byte arrives.
func TestSSHProxyTools(t *testing.T) {
	s := newSSHLab(t)
	lab.Require(t, "scp", "sftp", "rsync", "git")
	proxy := s.proxyOpt()
	dir := t.TempDir()
	big := make([]byte, 24<<20+7)
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "big.bin")
	if err := os.WriteFile(src, big, 0o600); err != nil {
		t.Fatal(err)
	}
	remote := filepath.Join(s.Dir, "remote") // same file system, server's view
	if err := os.MkdirAll(remote, 0o700); err != nil {
		t.Fatal(err)
	}
	same := func(t *testing.T, path string) {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(b, big) {
			t.Fatalf("%s differs from what was sent (%d bytes, err %v)", path, len(b), err)
		}
	}
	run := func(t *testing.T, name string, env []string, args ...string) {
		t.Helper()
		r := s.RunIn(t, s.Client, append(append([]string{}, s.env...), env...), lookTool(t, name), args...)
		ok(t, name, r, s)
		s.requireClosed()
	}
	conf := s.sshd.ClientConf
	t.Run("scp", func(t *testing.T) {
		s.t = t
		run(t, "scp", nil, "-q", "-F", conf, "-o", proxy, src, "lab6:"+remote+"/scp.bin")
		same(t, filepath.Join(remote, "scp.bin"))
		run(t, "scp", nil, "-q", "-F", conf, "-o", proxy, "lab4:"+remote+"/scp.bin", filepath.Join(dir, "back.bin"))
		same(t, filepath.Join(dir, "back.bin"))
	})
	t.Run("sftp", func(t *testing.T) {
		s.t = t
		batch := filepath.Join(dir, "batch")
		os.WriteFile(batch, []byte("put "+src+" "+remote+"/sftp.bin\n"), 0o600)
		run(t, "sftp", nil, "-q", "-F", conf, "-o", proxy, "-b", batch, "lab4")
		same(t, filepath.Join(remote, "sftp.bin"))
	})
	t.Run("rsync", func(t *testing.T) {
		s.t = t
		rsh := fmt.Sprintf("ssh -F %s -o '%s'", conf, proxy)
		run(t, "rsync", nil, "-a", "-e", rsh, src, "lab4:"+remote+"/rsync.bin")
		same(t, filepath.Join(remote, "rsync.bin"))
	})
	t.Run("git", func(t *testing.T) {
		s.t = t
		repo := filepath.Join(remote, "repo.git")
		work := filepath.Join(dir, "work")
		gitEnv := []string{"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.org", "GIT_COMMITTER_NAME=t",
			"GIT_COMMITTER_EMAIL=t@example.org", "GIT_CONFIG_NOSYSTEM=1",
			fmt.Sprintf("GIT_SSH_COMMAND=ssh -F %s -o '%s'", conf, proxy)}
		git := func(args ...string) {
			t.Helper()
			c := exec.Command("git", args...)
			c.Env = append(append(os.Environ(), s.env...), gitEnv...)
			if out, err := c.CombinedOutput(); err != nil {
				t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
		git("init", "-q", "--bare", repo)
		git("init", "-q", work)
		os.WriteFile(filepath.Join(work, "big.bin"), big, 0o600)
		git("-C", work, "add", "big.bin")
		git("-C", work, "commit", "-q", "-m", "big")
		run(t, "git", gitEnv, "-C", work, "push", "-q", "lab6:"+repo, "HEAD:refs/heads/main")
		clone := filepath.Join(dir, "clone")
		run(t, "git", gitEnv, "clone", "-q", "-b", "main", "lab4:"+repo, clone)
		same(t, filepath.Join(clone, "big.bin"))
	})
}

// startKnock starts the knock binary in the background in the client
// namespace, stdout and stderr to a log.
func (s *sshLab) startKnock(args ...string) *lab.Proc {
	s.t.Helper()
	c := exec.Command(lab.KnockBinary(s.t), args...)
	c.Env = append(os.Environ(), s.env...)
	return s.StartCmd(s.t, s.Client, c)
}

// TestSSHSignals sends each signal to knock ssh while a remote command
// runs: knock must pass it to ssh, survive it, and close the door.
func TestSSHSignals(t *testing.T) {
	s := newSSHLab(t)
	for _, fam := range sshFamilies {
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP} {
			t.Run(fam.name+"/"+sig.String(), func(t *testing.T) {
				s.t = t
				p := s.startKnock("ssh", fam.name, "--", "echo started; exec sleep 60")
				if !lab.WaitFor(30*time.Second, func() bool { return strings.Contains(p.Output(), "started") || p.Exited() }) || p.Exited() {
					t.Fatalf("remote command did not start:\n%s\nknockd:\n%s", p.Output(), s.kd.Log())
				}
				s.requireOpen()
				if err := p.Signal(sig); err != nil {
					t.Fatal(err)
				}
				err, done := p.Wait(30 * time.Second)
				if !done {
					t.Fatalf("knock ssh still running after %s:\n%s", sig, p.Output())
				}
				if ws, isWS := p.Cmd.ProcessState.Sys().(syscall.WaitStatus); isWS && ws.Signaled() {
					t.Fatalf("knock was killed by %s instead of closing: %v\n%s", ws.Signal(), err, p.Output())
				}
				if p.Cmd.ProcessState.ExitCode() == 0 {
					t.Fatalf("knock ssh exited 0 after %s", sig)
				}
				s.requireClosed()
			})
		}
	}
	// ssh ends its ProxyCommand with SIGHUP when it is itself stopped.
	t.Run("proxy/ssh killed", func(t *testing.T) {
		s.t = t
		c := exec.Command(lookTool(t, "ssh"), "-F", s.sshd.ClientConf, "-o", s.proxyOpt(), "lab4", "echo started; exec sleep 60")
		c.Env = append(os.Environ(), s.env...)
		p := s.StartCmd(t, s.Client, c)
		if !lab.WaitFor(30*time.Second, func() bool { return strings.Contains(p.Output(), "started") || p.Exited() }) || p.Exited() {
			t.Fatalf("remote command did not start:\n%s", p.Output())
		}
		s.requireOpen()
		if err := p.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if _, done := p.Wait(30 * time.Second); !done {
			t.Fatal("ssh did not end")
		}
		s.requireClosed()
	})
}

// wantOneLine checks that a failure is reported as a single knock: line.
func wantOneLine(t *testing.T, r lab.Result, want string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(r.Stderr), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "knock: ") || !strings.Contains(lines[0], want) {
		t.Fatalf("want one line containing %q on stderr, got %q", want, r.Stderr)
	}
	if r.Stdout != "" {
		t.Fatalf("stdout not empty: %q", r.Stdout)
	}
}

func TestSSHBadInput(t *testing.T) {
	s := newSSHLab(t)
	s.mustKnock("profile", "add", "ghost", "--host", "no-such-host.invalid", "--open", sshOpenSeq, "--close", sshCloseSeq, "--store", "file")
	s.mustKnock("profile", "add", "noclose", "--host", lab.ServerIP4.String(), "--open", sshOpenSeq, "--store", "file")
	s.mustKnock("profile", "add", "wrong", "--host", lab.ServerIP4.String(), "--open", "7100,7200,7300", "--close", "7300,7200,7100", "--store", "file")

	t.Run("missing ssh", func(t *testing.T) {
		s.t = t
		r := s.RunIn(t, s.Client, append(append([]string{}, s.env...), "PATH="+t.TempDir()), lab.KnockBinary(t), "ssh", "lab4")
		if r.Code != 1 {
			t.Fatalf("exit %d, want 1", r.Code)
		}
		wantOneLine(t, r, "ssh not found")
		if len(s.AcceptRules(t)) != 0 {
			t.Fatal("knocked although ssh is missing")
		}
	})
	t.Run("unknown host", func(t *testing.T) {
		s.t = t
		for _, args := range [][]string{{"ssh", "ghost"}, {"proxy", "ghost", "22"}} {
			r := s.knock(args...)
			if r.Code != 2 {
				t.Fatalf("%v: exit %d, want 2: %s", args, r.Code, r.Stderr)
			}
			wantOneLine(t, r, "no-such-host.invalid")
		}
	})
	t.Run("unknown profile", func(t *testing.T) {
		s.t = t
		for _, args := range [][]string{{"ssh", "nosuch"}, {"proxy", "nosuch", "22"}, {"nosuch"}} {
			r := s.knock(args...)
			if r.Code == 0 || r.Code == -1 {
				t.Fatalf("%v: exit %d", args, r.Code)
			}
			wantOneLine(t, r, "nosuch")
		}
	})
	t.Run("no close sequence", func(t *testing.T) {
		s.t = t
		r := s.knock("ssh", "noclose", "--", "true")
		ok(t, "knock ssh noclose", r, s)
		if n := strings.Count(r.Stderr, "\n"); n != 1 || !strings.Contains(r.Stderr, "no close sequence") {
			t.Fatalf("want one warning, got %q", r.Stderr)
		}
		// Nothing closed it: close by hand for the next test.
		s.closeByHand(lab.ServerIP4.String())
		s.requireClosed()
	})
	t.Run("port never opens", func(t *testing.T) {
		s.t = t
		for _, args := range [][]string{
			{"ssh", "--timeout", "2", "--retries", "1", "wrong", "--", "true"},
			{"proxy", "wrong", "22", "--timeout", "2", "--retries", "1"},
		} {
			r := s.knock(args...)
			if r.Code != 1 {
				t.Fatalf("%v: exit %d, want 1: %s", args, r.Code, r.Stderr)
			}
			wantOneLine(t, r, "did not open")
		}
	})
}

// TestSSHHostKeyAliasSSHG asks the real ssh -G, which knows the user's own
// HostKeyAlias and Port.
// TestSSHMatchExec checks docs/ssh.md's `Match host X exec "knock %n"`
// recipe, and that knock ssh under such a configuration opens the door
// once (a second open would insert a second ACCEPT rule that the close
// sequence leaves behind).
func TestSSHMatchExec(t *testing.T) {
	s := newSSHLab(t)
	conf := filepath.Join(s.sshd.Dir, "match_config")
	// Before the Host block that sets HostName: `Match host` compares with
	// the HostName once one is set (`Match originalhost` does not).
	body := "Match host lab4 exec \"" + lab.KnockBinary(t) + " %n\"\n" +
		"Host *\nInclude " + s.sshd.ClientConf + "\n"
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	s.env = append(s.env, "KNOCK_SSH_CONFIG="+conf)
	r := s.RunIn(t, s.Client, s.env, lookTool(t, "ssh"), "-F", conf, "lab4", "echo", "matched")
	ok(t, "ssh with Match exec", r, s)
	if strings.TrimSpace(r.Stdout) != "matched" {
		t.Fatalf("stdout %q", r.Stdout)
	}
	s.requireOpen()
	s.closeByHand(lab.ServerIP4.String())
	s.requireClosed()

	ok(t, "knock ssh with Match exec", s.knock("ssh", "lab4", "--", "true"), s)
	s.requireClosed()
}

// TestSSHProxyUnderKnockSSH: a ProxyCommand knock proxy inside knock ssh
// relays without knocking again (knock ssh opened the door and closes it).
func TestSSHProxyUnderKnockSSH(t *testing.T) {
	s := newSSHLab(t)
	before := strings.Count(s.kd.Log(), "openSSH: OPEN SESAME")
	r := s.knock("ssh", "-v", "lab6", "--", "-o", s.proxyOpt(), "echo", "inner")
	ok(t, "knock ssh with a ProxyCommand", r, s)
	if strings.TrimSpace(r.Stdout) != "inner" {
		t.Fatalf("stdout %q", r.Stdout)
	}
	opens := strings.Count(s.kd.Log(), "openSSH: OPEN SESAME") - before
	if n := rounds(t, r.Stderr); opens > n {
		t.Fatalf("door opened %d times for %d round(s) of knock ssh: the proxy knocked too\n%s", opens, n, s.kd.Log())
	}
	s.requireClosed()
}

// TestSSHProxyOneConnection relays stdin to a port other than the wait
// port, as bench/run does: the door is verified on the ssh port, the
// relayed port sees exactly one connection, every byte arrives, and the
// end of stdin (a half-close) ends the session.
func TestSSHProxyOneConnection(t *testing.T) {
	s := newSSHLab(t)
	var ln net.Listener
	if err := lab.InNamespace(s.Server, func() (err error) {
		ln, err = net.Listen("tcp", "[::]:5001")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type sunk struct {
		n     int64
		conns int
	}
	got := make(chan sunk, 1)
	// sink accepts until one connection brought bytes, counting them all.
	sink := func() {
		var r sunk
		for {
			c, err := ln.Accept()
			if err != nil {
				got <- r
				return
			}
			r.conns++
			n, _ := io.Copy(io.Discard, c)
			r.n += n
			c.Close() // after the client's FIN: the relay must then end
			if r.n > 0 {
				got <- r
				return
			}
		}
	}
	data := filepath.Join(t.TempDir(), "data")
	const size = 16<<20 + 3
	if err := os.WriteFile(data, make([]byte, size), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range sshFamilies {
		t.Run(c.name, func(t *testing.T) {
			s.t = t
			go sink()
			cmd := lab.KnockBinary(t) + " proxy " + c.name + " 5001 < " + data + " | wc -c"
			r := s.RunIn(t, s.Client, s.env, "/bin/sh", "-c", cmd)
			ok(t, "knock proxy", r, s)
			if strings.TrimSpace(r.Stdout) != "0" {
				t.Fatalf("stdout carried %q bytes, want 0", r.Stdout)
			}
			select {
			case g := <-got:
				if g.n != size || g.conns != 1 {
					t.Fatalf("server got %d bytes over %d connection(s), want %d over 1", g.n, g.conns, size)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("server got nothing")
			}
			s.requireClosed()
		})
	}
}
