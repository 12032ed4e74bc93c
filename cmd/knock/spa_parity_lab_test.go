//go:build linux

package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/a-knock/knock/internal/lab"
	"github.com/a-knock/knock/internal/spa"
)

// TestSPAParityLab proves fwknop client parity through the knock CLI: for
// every row of issue 17 a .fwknoprc (a [default] with the server and the
// keys, inherited by a named stanza, as fwknop's docs write them) is
// imported with knock profile import and knocked with knock NAME, verified
// on the profile's wait port where a TCP port opens; the real fwknopd 2.6
// with an upstream-style access.conf (one stanza per row, each with keys
// of its own) must open the rule. Then the rules are flushed and fwknop's
// own client, given the very same file, is the control. A subset is also
// sent with knock spa send and the flags. One fwknopd and one pair of
// namespaces serve every row; each row asks for its own port.
func TestSPAParityLab(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: lab test")
	}
	lab.Require(t, "fwknopd", "fwknop", "iptables", "gpg", "gpgconf", "gpg-agent", "setpriv")
	s := spaParityStart(t)
	rows := s.rows(t)
	var access strings.Builder
	for _, r := range rows {
		access.WriteString(r.accessStanza(s))
	}
	s.fw = s.Fwknopd(t, access.String(),
		"PCAP_FILTER udp or (tcp and dst port 62201) or icmp;",
		"ENABLE_TCP_SERVER Y;", "TCPSERV_PORT 62201;",
		"ENABLE_SPA_OVER_HTTP Y;",
		"ENABLE_IPT_FORWARDING Y;", "ENABLE_IPT_LOCAL_NAT Y;",
		"GPG_EXE "+spaParityLook(t, "gpg")+";")
	// The row ports are closed but for fwknopd's rules: its chain comes
	// first in INPUT, this DROP after.
	s.MustExec(t, s.Server, spaParityLook(t, "iptables"), "-w", "-A", "INPUT", "-p", "tcp", "--dport", "10000:10999", "-j", "DROP")
	defer func() {
		if t.Failed() {
			t.Logf("fwknopd log:\n%s", s.fw.Log())
		}
	}()

	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			rc := s.writeRC(t, r)
			if r.importable() {
				t.Run("knock import", func(t *testing.T) { s.knockImported(t, r, rc) })
				s.flush(t)
			}
			if r.send != nil {
				t.Run("knock spa send", func(t *testing.T) { s.knockSend(t, r, false) })
				s.flush(t)
			}
			if r.add {
				t.Run("knock spa add", func(t *testing.T) { s.knockSend(t, r, true) })
				s.flush(t)
			}
			t.Run("fwknop", func(t *testing.T) { s.fwknop(t, r, rc) })
			s.flush(t)
		})
	}
	t.Run("raw without CAP_NET_RAW", func(t *testing.T) { s.rawRefused(t, rows[0]) })
}

// spaParityLab is the shared lab.
type spaParityLab struct {
	*lab.Lab
	fw       *lab.Fwknopd
	dir      string
	env      []string // HOME and a file store for knock and fwknop
	server   netip.Addr
	gpg      spaParityGPG
	cmdDir   string
	resolves atomic.Int32 // requests the resolve URL answered
}

// spaParityGPG are the lab's GPG keys: the server's and the client's, in a
// GnuPG home each (for fwknopd and fwknop), and exported for knock.
type spaParityGPG struct {
	serverID, clientID     string // short key IDs, as fwknopd compares them
	serverHome, clientHome string
	keyring                string // exported: the server's public and the client's secret key
}

// spaParityRow is one variant of issue 17.
type spaParityRow struct {
	name string
	port uint16
	keys spa.Keys
	gpg  bool
	// access holds the access.conf lines after SOURCE, keys and timeout.
	access string
	// rc holds the named stanza's lines (the keys and the server are in
	// [default]); with defaultOnly the file has [default] alone.
	rc          string
	defaultOnly bool
	// listen: something listens on port in the server namespace.
	listen bool
	// verified: knock NAME waits on this port (0: nothing to wait on).
	verified uint16
	// send are the flags of knock spa send after HOST (the keys are
	// added); nil for none. With add, knock spa add saves them as a
	// profile too, which knock NAME then sends.
	send []string
	add  bool
	// cmd is a server command (-C / --server-cmd): not an rc setting.
	cmd string
	// resolved counts the resolve URL's answers up to the last check.
	resolved int32
	// check proves the row opened; out is the client's output.
	check func(t *testing.T, s *spaParityLab, r *spaParityRow, out string)
	// decoded are what fwknopd's log must say of the packet it accepted
	// (its "SPA Field Values"), %PORT% standing for port.
	decoded []string
	// proto is the transport knock's -v lines must name ("spa udpraw").
	proto string
}

func (r *spaParityRow) importable() bool { return r.cmd == "" }

// stanza is the profile name knock gives the row's stanza (or file).
func (r *spaParityRow) profile() string {
	if r.defaultOnly {
		return "fwknoprc-" + r.name
	}
	return r.name
}

const spaParityTimeout = 60

func spaParityStart(t *testing.T) *spaParityLab {
	l := lab.New(t)
	s := &spaParityLab{Lab: l, dir: t.TempDir(), server: lab.ServerIP4}
	s.env = []string{"HOME=" + s.dir, "XDG_CONFIG_HOME=" + s.dir, "XDG_RUNTIME_DIR=" + s.dir, "DBUS_SESSION_BUS_ADDRESS=",
		"GNUPGHOME=" + filepath.Join(s.dir, "gnupg-none"), envSPAKey + "=", envSPAHMACKey + "=", envGPGPW + "="}
	s.cmdDir = filepath.Join(s.dir, "cmd")
	if err := os.Mkdir(s.cmdDir, 0o777); err != nil {
		t.Fatal(err)
	}
	// The NAT target: the server's own address, another port.
	l.ListenTCP(t, l.Server, s.server.String()+":2222")
	s.setupGPG(t)
	s.resolver(t)
	return s
}

func spaParityLook(t *testing.T, tool string) string {
	t.Helper()
	p, err := lab.LookPath(tool)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (s *spaParityLab) rows(t *testing.T) []*spaParityRow {
	gen := func(d spa.Digest) spa.Keys {
		k, err := spa.GenerateKeys()
		if err != nil {
			t.Fatal(err)
		}
		k.HMACDigest = d
		return k
	}
	client := lab.ClientIP4
	server := s.server.String()
	var rows []*spaParityRow
	add := func(r *spaParityRow) {
		r.port = uint16(10001 + len(rows))
		if r.keys.Enc == nil && !r.gpg {
			r.keys = gen(spa.DigestSHA256)
		}
		if r.check == nil {
			r.check = spaParityOpened(client)
		}
		if r.listen {
			s.ListenTCP(t, s.Server, netip.AddrPortFrom(s.server, r.port).String())
		}
		rows = append(rows, r)
	}
	// HMAC and message digests; [default] says USE_HMAC N after the HMAC
	// key, which fwknop's client ignores (the control proves it).
	for _, d := range []spa.Digest{spa.DigestMD5, spa.DigestSHA1, spa.DigestSHA256, spa.DigestSHA384, spa.DigestSHA512, spa.DigestSHA3_256, spa.DigestSHA3_512} {
		// fwknopd names digests by fwknop's numbers.
		n := map[spa.Digest]string{spa.DigestMD5: "1 (MD5)", spa.DigestSHA1: "2 (SHA1)", spa.DigestSHA256: "3 (SHA256)",
			spa.DigestSHA384: "4 (SHA384)", spa.DigestSHA512: "5 (SHA512)", spa.DigestSHA3_256: "6 (SHA3_256)", spa.DigestSHA3_512: "7 (SHA3_512)"}[d]
		add(&spaParityRow{name: "digest-" + d.String(), keys: gen(d), listen: true,
			decoded: []string{"Digest Type: " + n, "HMAC Type: " + n},
			rc:      "DIGEST_TYPE " + d.String() + "\n",
			send:    []string{"-m", d.String(), "--hmac-digest-type", d.String()}})
	}
	add(&spaParityRow{name: "legacy-iv", listen: true,
		keys:    spa.Keys{Enc: []byte("fwknoptest"), Mode: spa.ModeLegacy},
		access:  "KEY fwknoptest\nENCRYPTION_MODE legacy\n",
		decoded: []string{"Encryption Mode: 8 (legacy)", "HMAC Type: 0 (None)"},
		rc:      "ENCRYPTION_MODE legacy\n",
		send:    []string{"-M", "legacy"}})
	gpgKeys := gen(spa.DigestSHA256)
	gpgKeys.Enc = nil
	add(&spaParityRow{name: "gpg", gpg: true, keys: gpgKeys, listen: true,
		decoded: []string{"Encryption Type: 2 (GPG)", "HMAC Type: 3 (SHA256)"},
		access:  fmt.Sprintf("GPG_HOME_DIR %s\nGPG_DECRYPT_ID %s\nGPG_ALLOW_NO_PW Y\nGPG_REMOTE_ID %s\n", s.gpg.serverHome, s.gpg.serverID, s.gpg.clientID),
		rc: fmt.Sprintf("USE_GPG Y\nGPG_HOMEDIR %s\nGPG_RECIPIENT %s\nGPG_SIGNER %s\nGPG_NO_SIGNING_PW Y\n",
			s.gpg.clientHome, s.gpg.serverID, s.gpg.clientID),
		send: []string{"--gpg-recipient-key", s.gpg.serverID, "--gpg-signer-key", s.gpg.clientID, "--gpg-keyring", s.gpg.keyring}, add: true})
	// Access, the way fwknop's docs write it: [default] alone.
	add(&spaParityRow{name: "access", defaultOnly: true, listen: true, rc: "USE_GPG_AGENT N\n",
		decoded: []string{"Message Type: 1 (Access msg)", "Message String: 0.0.0.0,tcp/%PORT%\n", "Client Timeout: 0"}})
	add(&spaParityRow{name: "client-timeout", listen: true, rc: "FW_TIMEOUT 45\n", send: []string{"-f", "45"},
		decoded: []string{"Message Type: 3 (Client timeout access msg)", "Client Timeout: 45"},
		check: func(t *testing.T, s *spaParityLab, r *spaParityRow, _ string) {
			spaParityExpires(t, s.waitRule(t, "filter", "FWKNOP_INPUT", "-s "+client.String()+"/32", spaParityDport(r.port), "-j ACCEPT"), 45)
		}})
	target := server + ":2222"
	add(&spaParityRow{name: "nat-access", rc: "NAT_ACCESS " + server + ",2222\n",
		decoded: []string{"Message Type: 2 (NAT access msg)", "Nat Access: " + server + ",2222"},
		check:   spaParityNAT(target, spaParityTimeout)})
	add(&spaParityRow{name: "nat-access-timeout", rc: "NAT_ACCESS " + server + ",2222\nFW_TIMEOUT 40\n",
		decoded: []string{"Message Type: 4 (Client timeout NAT access msg)", "Client Timeout: 40"},
		check:   spaParityNAT(target, 40)})
	add(&spaParityRow{name: "nat-port", rc: "ACCESS tcp/2222\nNAT_ACCESS " + server + "\nNAT_PORT %PORT%\n",
		decoded: []string{"Message Type: 2 (NAT access msg)", ",tcp/%PORT%\n", "Nat Access: " + server + ",2222"},
		check:   spaParityNAT(target, spaParityTimeout)})
	randNAT := regexp.MustCompile(`Randomly assigned port '(\d+)'|NAT access through random port (\d+)`)
	add(&spaParityRow{name: "nat-rand-port", rc: "ACCESS tcp/2222\nNAT_ACCESS " + server + "\nNAT_RAND_PORT Y\n",
		decoded: []string{"Message Type: 2 (NAT access msg)", "Nat Access: " + server + ",2222"},
		send:    []string{"-A", "tcp/2222", "-N", server, "--nat-rand-port"}, add: true,
		check: func(t *testing.T, s *spaParityLab, r *spaParityRow, out string) {
			m := randNAT.FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("no random NAT port in the output:\n%s", out)
			}
			p, _ := strconv.Atoi(m[1] + m[2])
			if p < spa.MinRandPort {
				t.Fatalf("random NAT port %d", p)
			}
			spaParityNAT(target, spaParityTimeout)(t, s, &spaParityRow{port: uint16(p)}, out)
		}})
	add(&spaParityRow{name: "local-nat", rc: "ACCESS tcp/2222\nNAT_LOCAL Y\nNAT_PORT %PORT%\n",
		decoded: []string{"Message Type: 5 (Local NAT access msg)", ",tcp/%PORT%\n"},
		send:    []string{"-A", "tcp/2222", "--nat-local", "--nat-port", "%PORT%"},
		check: func(t *testing.T, s *spaParityLab, r *spaParityRow, out string) {
			s.waitRule(t, "filter", "FWKNOP_INPUT", "-s "+client.String()+"/32", spaParityDport(2222), "-j ACCEPT")
			spaParityNAT(target, spaParityTimeout)(t, s, r, out)
		}})
	add(&spaParityRow{name: "local-nat-timeout", listen: true, rc: "NAT_LOCAL Y\nFW_TIMEOUT 35\n",
		decoded: []string{"Message Type: 6 (Client timeout local NAT access msg)", "Client Timeout: 35"},
		check: func(t *testing.T, s *spaParityLab, r *spaParityRow, _ string) {
			p := strconv.Itoa(int(r.port))
			spaParityExpires(t, s.waitRule(t, "nat", "FWKNOP_PREROUTING", spaParityDport(r.port), "--to-destination "+server+":"+p), 35)
			s.waitRule(t, "filter", "FWKNOP_INPUT", "-s "+client.String()+"/32", spaParityDport(r.port), "-j ACCEPT")
		}})
	add(&spaParityRow{name: "server-command", access: "ENABLE_CMD_EXEC Y\n", rc: "ALLOW_IP source\n",
		decoded: []string{"Message Type: 0 (Command msg)"},
		cmd:     "touch " + filepath.Join(s.cmdDir, "%PORT%"),
		send:    []string{"-C", "touch " + filepath.Join(s.cmdDir, "%PORT%")}, add: true,
		check: func(t *testing.T, s *spaParityLab, r *spaParityRow, _ string) {
			f := filepath.Join(s.cmdDir, strconv.Itoa(int(r.port)))
			if !lab.WaitFor(5*time.Second, func() bool { _, err := os.Stat(f); return err == nil }) {
				t.Fatalf("fwknopd did not run the command (no %s)", f)
			}
			_ = os.Remove(f)
		}})
	randDst := regexp.MustCompile(`spa udp, to a random port each packet \d+ characters -> ` + regexp.QuoteMeta(server) + `:(\d+) `)
	add(&spaParityRow{name: "rand-port", listen: true, rc: "RAND_PORT Y\n", send: []string{"-r"},
		check: func(t *testing.T, s *spaParityLab, r *spaParityRow, out string) {
			spaParityOpened(client)(t, s, r, out)
			if !strings.Contains(out, "knock: ") {
				return // fwknop's client
			}
			m := randDst.FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("knock did not send to a random port:\n%s", out)
			}
			if p, _ := strconv.Atoi(m[1]); p < spa.MinRandPort || p == spa.DefaultPort {
				t.Fatalf("knock sent to port %d, not a random one:\n%s", p, out)
			}
		}})
	for _, p := range []string{"tcp", "http", "udpraw", "tcpraw", "icmp"} {
		add(&spaParityRow{name: p, listen: true, rc: "SPA_SERVER_PROTO " + p + "\n", send: []string{"-P", p}, proto: p})
	}
	spoofed := netip.MustParseAddr("198.51.100.77")
	add(&spaParityRow{name: "spoof-source", listen: true,
		rc:   "SPA_SERVER_PROTO udpraw\nSPOOF_SOURCE_IP " + spoofed.String() + "\n",
		send: []string{"-P", "udpraw", "-Q", spoofed.String()}, add: true,
		proto: "udpraw from " + spoofed.String(),
		check: spaParityOpened(spoofed)})
	add(&spaParityRow{name: "spoof-user", listen: true, access: "REQUIRE_USERNAME mbrtest\n",
		rc: "SPOOF_USER mbrtest\n", send: []string{"-U", "mbrtest"}, decoded: []string{"Username: mbrtest"}})
	url := "http://" + server + ":8080/myip"
	add(&spaParityRow{name: "allow-ip-resolve", listen: true,
		// fwknopd opens only for an address in the packet: the resolved
		// one, which the lab resolver says is the client's.
		access: "REQUIRE_SOURCE_ADDRESS Y\n",
		// The address is in the packet: a source request says 0.0.0.0.
		decoded: []string{"Message String: 198.51.100.1,tcp/%PORT%\n"},
		rc:      "ALLOW_IP resolve\nRESOLVE_URL " + url + "\nRESOLVE_HTTP_ONLY Y\n",
		send:    []string{"-a", "resolve", "--resolve-url", url, "--resolve-http-only"},
		check: func(t *testing.T, s *spaParityLab, r *spaParityRow, out string) {
			spaParityOpened(client)(t, s, r, out)
			n := s.resolves.Load()
			if n <= r.resolved {
				t.Fatal("the client did not ask the resolve URL")
			}
			r.resolved = n
		}})

	for _, r := range rows {
		r.rc = strings.ReplaceAll(r.rc, "%PORT%", strconv.Itoa(int(r.port)))
		r.cmd = strings.ReplaceAll(r.cmd, "%PORT%", strconv.Itoa(int(r.port)))
		for i := range r.send {
			r.send[i] = strings.ReplaceAll(r.send[i], "%PORT%", strconv.Itoa(int(r.port)))
		}
		for i := range r.decoded {
			r.decoded[i] = strings.ReplaceAll(r.decoded[i], "%PORT%", strconv.Itoa(int(r.port)))
		}
		switch {
		case r.cmd != "" || r.name == "spoof-source":
		case r.name == "nat-rand-port":
			r.verified = 1 // the drawn port
		case strings.Contains(r.rc, "NAT_PORT"):
			r.verified = r.port
		case strings.Contains(r.rc, "\nACCESS tcp/2222") || strings.HasPrefix(r.rc, "ACCESS tcp/2222"):
			r.verified = 2222
		default:
			r.verified = r.port
		}
	}
	return rows
}

// accessStanza is the row's access.conf stanza, as fwknop's test suite
// writes them (test/conf/*access.conf).
func (r *spaParityRow) accessStanza(s *spaParityLab) string {
	var b strings.Builder
	fmt.Fprintf(&b, "SOURCE ANY\nFW_ACCESS_TIMEOUT %d\n", spaParityTimeout)
	if !r.gpg && len(r.keys.Enc) > 0 && r.keys.Mode != spa.ModeLegacy {
		k, _ := r.keys.Base64()
		fmt.Fprintf(&b, "KEY_BASE64 %s\n", k)
	}
	if len(r.keys.HMAC) > 0 {
		_, h := r.keys.Base64()
		fmt.Fprintf(&b, "HMAC_KEY_BASE64 %s\nHMAC_DIGEST_TYPE %s\n", h, r.keys.HMACDigest)
	}
	b.WriteString(r.access)
	return b.String() + "\n"
}

// writeRC writes the row's .fwknoprc: [default] with the server and the
// keys, then the row's stanza (or [default] alone).
func (s *spaParityLab) writeRC(t *testing.T, r *spaParityRow) string {
	var b strings.Builder
	b.WriteString("# written by TestSPAParityLab\n[default]\nSPA_SERVER " + s.server.String() + "\nNO_SAVE_ARGS Y\n")
	switch {
	case r.keys.Mode == spa.ModeLegacy:
		fmt.Fprintf(&b, "KEY %s\n", r.keys.Enc)
	case r.gpg:
	default:
		k, _ := r.keys.Base64()
		fmt.Fprintf(&b, "KEY_BASE64 %s\n", k)
	}
	if len(r.keys.HMAC) > 0 {
		_, h := r.keys.Base64()
		fmt.Fprintf(&b, "HMAC_KEY_BASE64 %s\nHMAC_DIGEST_TYPE %s\nUSE_HMAC N\n", h, r.keys.HMACDigest)
	}
	if !regexp.MustCompile(`(?m)^ACCESS `).MatchString(r.rc) && r.cmd == "" {
		fmt.Fprintf(&b, "ACCESS tcp/%d\n", r.port)
	}
	// fwknop's client wants one of -s, -a, -R. ALLOW_IP resolve after
	// ALLOW_IP source would keep source, as fwknop does.
	if !strings.Contains(r.rc, "ALLOW_IP") {
		b.WriteString("ALLOW_IP source\n")
	}
	if !r.defaultOnly {
		b.WriteString("\n[" + r.name + "]\n")
	}
	b.WriteString(r.rc)
	name := "rc-" + r.name
	if r.defaultOnly {
		name = "fwknoprc-" + r.name
	}
	path := filepath.Join(s.dir, name)
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func (s *spaParityLab) knock(t *testing.T, args ...string) lab.Result {
	t.Helper()
	return s.RunIn(t, s.Client, s.env, lab.KnockBinary(t), args...)
}

// knockImported imports the row's file and knocks the profile.
func (s *spaParityLab) knockImported(t *testing.T, r *spaParityRow, rc string) {
	args := []string{"profile", "import", rc, "--store", "file"}
	if r.gpg {
		args = append(args, "--gpg-keyring", s.gpg.keyring)
	}
	res := s.knock(t, args...)
	if res.Code != 0 || !strings.Contains(res.Stderr, fmt.Sprintf("imported profile %q (spa)", r.profile())) || strings.Contains(res.Stderr, "not imported") {
		t.Fatalf("knock %s: exit %d\n%s", strings.Join(args, " "), res.Code, res.Stderr)
	}
	mark := len(s.fw.Log())
	res = s.knock(t, r.profile(), "-v")
	if res.Code != 0 {
		t.Fatalf("knock %s: exit %d\n%s", r.profile(), res.Code, res.Stderr)
	}
	s.checkVerified(t, r, res.Stderr)
	r.check(t, s, r, res.Stdout+res.Stderr)
	s.checkDecoded(t, r, mark, res.Stderr)
}

// checkDecoded: fwknopd's log since mark shows the fields the row asks
// for, and knock's -v lines the transport.
func (s *spaParityLab) checkDecoded(t *testing.T, r *spaParityRow, mark int, stderr string) {
	t.Helper()
	log := s.fw.Log()[mark:]
	if !strings.Contains(log, "SPA Decode (res=0)") {
		t.Fatalf("fwknopd decoded no packet:\n%s", log)
	}
	for _, want := range r.decoded {
		if !strings.Contains(log, want) {
			t.Errorf("fwknopd's log lacks %q for the packet it accepted", want)
		}
	}
	if r.proto != "" && stderr != "" && !regexp.MustCompile(`knock: [0-9:.]+ spa `+regexp.QuoteMeta(r.proto)+`[ ,]`).MatchString(stderr) {
		t.Errorf("knock's -v lines do not name the transport %q:\n%s", r.proto, stderr)
	}
}

// checkVerified: knock waited on the port the row opens (or said why
// there is none to wait on).
func (s *spaParityLab) checkVerified(t *testing.T, r *spaParityRow, stderr string) {
	t.Helper()
	switch r.verified {
	case 0:
		if strings.Contains(stderr, " open after ") {
			t.Fatalf("knock verified a port, but the row opens none it can reach:\n%s", stderr)
		}
	case 1:
		if !regexp.MustCompile(`port (\d+) on ` + regexp.QuoteMeta(s.server.String()) + ` open after`).MatchString(stderr) {
			t.Fatalf("knock did not verify the random NAT port:\n%s", stderr)
		}
	default:
		if !strings.Contains(stderr, fmt.Sprintf("port %d on %s open after", r.verified, s.server)) {
			t.Fatalf("knock did not verify port %d:\n%s", r.verified, stderr)
		}
	}
}

// knockSend sends the row with knock spa send and its flags, or saves
// them with knock spa add and knocks the profile; keys from a key file,
// GPG keys from the exported keyring.
func (s *spaParityLab) knockSend(t *testing.T, r *spaParityRow, add bool) {
	kf := filepath.Join(s.dir, "keys-"+r.name)
	var b strings.Builder
	switch {
	case r.keys.Mode == spa.ModeLegacy:
		fmt.Fprintf(&b, "KEY %s\n", r.keys.Enc)
	case r.gpg:
	default:
		k, _ := r.keys.Base64()
		fmt.Fprintf(&b, "KEY_BASE64: %s\n", k)
	}
	if len(r.keys.HMAC) > 0 {
		_, h := r.keys.Base64()
		fmt.Fprintf(&b, "HMAC_KEY_BASE64: %s\n", h)
	}
	if err := os.WriteFile(kf, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"spa", "send", s.server.String(), "--key-file", kf, "-v"}
	if add {
		args = []string{"spa", "add", r.name + "-add", "--host", s.server.String(), "--key-file", kf, "--store", "file"}
	}
	hasAccess := false
	for _, a := range r.send {
		hasAccess = hasAccess || a == "-A" || a == "-C"
	}
	if !hasAccess {
		args = append(args, "-A", fmt.Sprintf("tcp/%d", r.port))
	}
	if len(r.keys.HMAC) > 0 && r.keys.HMACDigest != spa.DigestSHA256 && !strings.Contains(strings.Join(r.send, " "), "--hmac-digest-type") {
		args = append(args, "--hmac-digest-type", r.keys.HMACDigest.String())
	}
	args = append(args, r.send...)
	if r.verified > 1 && !add {
		args = append(args, "--wait", strconv.Itoa(int(r.verified)))
	}
	if add {
		res := s.knock(t, args...)
		if res.Code != 0 || !strings.Contains(res.Stderr, fmt.Sprintf("saved profile %q", r.name+"-add")) {
			t.Fatalf("knock %s: exit %d\n%s", strings.Join(args, " "), res.Code, res.Stderr)
		}
		args = []string{r.name + "-add", "-v"}
	}
	mark := len(s.fw.Log())
	res := s.knock(t, args...)
	if res.Code != 0 {
		t.Fatalf("knock %s: exit %d\n%s", strings.Join(args, " "), res.Code, res.Stderr)
	}
	s.checkVerified(t, r, res.Stderr)
	r.check(t, s, r, res.Stdout+res.Stderr)
	s.checkDecoded(t, r, mark, res.Stderr)
}

// fwknop sends the row with fwknop's own client and the same file.
func (s *spaParityLab) fwknop(t *testing.T, r *spaParityRow, rc string) {
	args := []string{"--rc-file", rc, "--no-save-args", "-v"}
	if !r.defaultOnly {
		args = append(args, "-n", r.name)
	}
	if r.cmd != "" {
		args = append(args, "--server-cmd", r.cmd)
	}
	mark := len(s.fw.Log())
	res := s.RunIn(t, s.Client, s.env, spaParityLook(t, "fwknop"), args...)
	if res.Code != 0 {
		t.Fatalf("fwknop %s: exit %d\n%s\n%s", strings.Join(args, " "), res.Code, res.Stdout, res.Stderr)
	}
	r.check(t, s, r, res.Stdout+res.Stderr)
	s.checkDecoded(t, r, mark, "")
}

// rawRefused: a raw transport without CAP_NET_RAW is one line and exit 2.
func (s *spaParityLab) rawRefused(t *testing.T, r *spaParityRow) {
	kf := filepath.Join(s.dir, "keys-raw")
	k, h := r.keys.Base64()
	if err := os.WriteFile(kf, []byte("KEY_BASE64 "+k+"\nHMAC_KEY_BASE64 "+h+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	res := s.RunIn(t, s.Client, s.env, spaParityLook(t, "setpriv"), "--bounding-set", "-net_raw", "--inh-caps", "-net_raw", "--",
		lab.KnockBinary(t), "spa", "send", s.server.String(), "-A", "tcp/22", "--key-file", kf, "-P", "tcpraw")
	lines := strings.Split(strings.TrimSpace(res.Stderr), "\n")
	if res.Code != exitUsage || len(lines) != 1 || !strings.Contains(lines[0], "the tcpraw transport needs root or CAP_NET_RAW") {
		t.Fatalf("tcpraw without CAP_NET_RAW: exit %d\n%s", res.Code, res.Stderr)
	}
}

// flush removes fwknopd's rules behind its back, so that the next client
// must open them anew.
func (s *spaParityLab) flush(t *testing.T) {
	t.Helper()
	ipt := spaParityLook(t, "iptables")
	for _, tc := range [][2]string{{"filter", "FWKNOP_INPUT"}, {"filter", "FWKNOP_FORWARD"}, {"nat", "FWKNOP_PREROUTING"}, {"nat", "FWKNOP_POSTROUTING"}} {
		_, _ = s.Exec(s.Server, ipt, "-w", "-t", tc[0], "-F", tc[1])
	}
}

func (s *spaParityLab) rules(t *testing.T, table, chain string) []string {
	t.Helper()
	out, _ := s.Exec(s.Server, spaParityLook(t, "iptables"), "-w", "-t", table, "-S", chain)
	return strings.Split(out, "\n")
}

// waitRule waits for a rule of table/chain holding every part.
func (s *spaParityLab) waitRule(t *testing.T, table, chain string, parts ...string) string {
	t.Helper()
	var found string
	ok := lab.WaitFor(5*time.Second, func() bool {
		for _, line := range s.rules(t, table, chain) {
			all := true
			for _, p := range parts {
				all = all && strings.Contains(line, p)
			}
			if all {
				found = line
				return true
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("no %s %s rule with %q; rules:\n%s", table, chain, parts, strings.Join(s.rules(t, table, chain), "\n"))
	}
	return found
}

func spaParityDport(p uint16) string { return "--dport " + strconv.Itoa(int(p)) + " " }

// spaParityOpened checks fwknopd's ACCEPT rule for src and the row's port.
func spaParityOpened(src netip.Addr) func(t *testing.T, s *spaParityLab, r *spaParityRow, _ string) {
	return func(t *testing.T, s *spaParityLab, r *spaParityRow, _ string) {
		s.waitRule(t, "filter", "FWKNOP_INPUT", "-s "+src.String()+"/32", spaParityDport(r.port), "-j ACCEPT")
	}
}

// spaParityNAT checks fwknopd's DNAT of the row's port to target, its
// expiry, and that it carries a connection.
func spaParityNAT(target string, timeout int) func(t *testing.T, s *spaParityLab, r *spaParityRow, _ string) {
	return func(t *testing.T, s *spaParityLab, r *spaParityRow, _ string) {
		rule := s.waitRule(t, "nat", "FWKNOP_PREROUTING", spaParityDport(r.port), "--to-destination "+target)
		spaParityExpires(t, rule, timeout)
		err := lab.InNamespace(s.Client, func() error {
			c, err := net.DialTimeout("tcp4", netip.AddrPortFrom(s.server, r.port).String(), 3*time.Second)
			if err == nil {
				c.Close()
			}
			return err
		})
		if err != nil {
			t.Fatalf("connect to the forwarded port %d: %v", r.port, err)
		}
	}
}

// spaParityExpires checks a rule's expiry (fwknopd writes _exp_<unix>).
func spaParityExpires(t *testing.T, rule string, want int) {
	t.Helper()
	m := regexp.MustCompile(`_exp_(\d+)`).FindStringSubmatch(rule)
	if m == nil {
		t.Fatalf("rule without expiry: %s", rule)
	}
	exp, _ := strconv.ParseInt(m[1], 10, 64)
	if d := exp - time.Now().Unix(); d < int64(want)-10 || d > int64(want)+2 {
		t.Fatalf("rule expires in %d s, want about %d: %s", d, want, rule)
	}
}

// resolver answers the client's address over HTTP in the server
// namespace, as fwknop's resolve URL does.
func (s *spaParityLab) resolver(t *testing.T) {
	var ln net.Listener
	err := lab.InNamespace(s.Server, func() error {
		var err error
		ln, err = net.Listen("tcp4", s.server.String()+":8080")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		if r.URL.Path != "/myip" {
			http.NotFound(w, r)
			return
		}
		s.resolves.Add(1)
		fmt.Fprintf(w, "%s\n", host)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
}

// setupGPG makes the server's and the client's RSA key pairs, gives
// fwknopd a GnuPG home with the server's secret and the client's public
// key, fwknop's client one the other way round, and knock an exported
// keyring: the server's public and the client's secret key.
func (s *spaParityLab) setupGPG(t *testing.T) {
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoRSA, RSABits: 2048}
	serverKey, err := openpgp.NewEntity("fwknopd lab", "", "server@example.org", cfg)
	if err != nil {
		t.Fatal(err)
	}
	clientKey, err := openpgp.NewEntity("knock lab", "", "client@example.org", cfg)
	if err != nil {
		t.Fatal(err)
	}
	export := func(name string, e *openpgp.Entity, private bool) string {
		var buf bytes.Buffer
		typ := "PGP PUBLIC KEY BLOCK"
		if private {
			typ = "PGP PRIVATE KEY BLOCK"
		}
		w, err := armor.Encode(&buf, typ, nil)
		if err != nil {
			t.Fatal(err)
		}
		if private {
			err = e.SerializePrivate(w, nil)
		} else {
			err = e.Serialize(w)
		}
		if err != nil {
			t.Fatal(err)
		}
		w.Close()
		p := filepath.Join(s.dir, name)
		if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	gpg := spaParityLook(t, "gpg")
	for _, h := range []struct {
		ns, dir        string
		secret, public *openpgp.Entity
		home           *string
	}{{s.Server, "gnupg-server", serverKey, clientKey, &s.gpg.serverHome}, {s.Client, "gnupg-client", clientKey, serverKey, &s.gpg.clientHome}} {
		home := filepath.Join(s.dir, h.dir)
		*h.home = home
		if err := os.Mkdir(home, 0o700); err != nil {
			t.Fatal(err)
		}
		// gpg-agent starts in the namespace and dies with it.
		t.Cleanup(func() { _, _ = s.Exec(h.ns, spaParityLook(t, "gpgconf"), "--homedir", home, "--kill", "gpg-agent") })
		sec, pub := export(h.dir+"-secret.asc", h.secret, true), export(h.dir+"-public.asc", h.public, false)
		s.MustExec(t, h.ns, gpg, "--homedir", home, "--batch", "--quiet", "--import", sec, pub)
		// fwknopd wants a signature of at least marginal validity.
		trust := filepath.Join(s.dir, h.dir+"-trust")
		if err := os.WriteFile(trust, []byte(fmt.Sprintf("%X:6:\n", h.public.PrimaryKey.Fingerprint)), 0o600); err != nil {
			t.Fatal(err)
		}
		s.MustExec(t, h.ns, gpg, "--homedir", home, "--batch", "--quiet", "--import-ownertrust", trust)
	}
	short := func(e *openpgp.Entity) string { return fmt.Sprintf("%016X", e.PrimaryKey.KeyId)[8:] }
	s.gpg.serverID, s.gpg.clientID = short(serverKey), short(clientKey)
	pub, err := os.ReadFile(filepath.Join(s.dir, "gnupg-client-public.asc"))
	if err != nil {
		t.Fatal(err)
	}
	sec, err := os.ReadFile(filepath.Join(s.dir, "gnupg-client-secret.asc"))
	if err != nil {
		t.Fatal(err)
	}
	s.gpg.keyring = filepath.Join(s.dir, "knock-keys.asc")
	if err := os.WriteFile(s.gpg.keyring, append(pub, sec...), 0o600); err != nil {
		t.Fatal(err)
	}
}
