//go:build linux

package spa

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/a-knock/knock/internal/lab"
)

// The lab tests prove every variant the encoder and transports build
// against the real fwknopd 2.6.10: one fwknopd, one access.conf stanza per
// row (each with its own keys, modelled on fwknop's test/conf/*access.conf),
// and for every row the same stanza opened by fwknop's own client as the
// control. Each row asks for its own port, so the rule it opens is told
// apart from the others' in fwknopd's chains.

// spaLab is the shared lab: namespaces, fwknopd and the per-row keys.
type spaLab struct {
	*lab.Lab
	fw     *lab.Fwknopd
	dir    string
	env    []string
	server netip.Addr
	gpgIDs [2]string // server and client key IDs
	cmdDir string
}

// labRow is one variant.
type labRow struct {
	name string
	// access is the stanza's lines after SOURCE, keys and timeout.
	access string
	keys   Keys
	gpg    bool
	// req and tr build knock's packet and transport for port.
	req func(port uint16) Request
	tr  func(port uint16) Transport
	// rc is the control's fwknoprc stanza body for port (keys added).
	rc func(port uint16) string
	// check proves the row opened for port; src is the expected source.
	check func(t *testing.T, s *spaLab, port uint16, out string)
}

const labAccessTimeout = 60

func TestSPALabFwknopd(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: lab test")
	}
	lab.Require(t, "fwknopd", "fwknop", "iptables", "gpg", "gpgconf", "gpg-agent")
	l := lab.New(t)
	s := &spaLab{Lab: l, dir: t.TempDir(), server: lab.ServerIP4}
	s.env = []string{"HOME=" + s.dir, "GNUPGHOME=" + filepath.Join(s.dir, "gnupg-none")}
	s.cmdDir = filepath.Join(s.dir, "cmd")
	if err := os.Mkdir(s.cmdDir, 0o700); err != nil {
		t.Fatal(err)
	}
	// The NAT target: the server's own address, another port.
	l.ListenTCP(t, l.Server, lab.ServerIP4.String()+":2222")
	serverGPG := s.setupGPG(t)
	s.resolver(t)

	rows := s.rows(t, serverGPG)
	var access strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&access, "SOURCE ANY\nFW_ACCESS_TIMEOUT %d\n", labAccessTimeout)
		if !r.gpg && len(r.keys.Enc) > 0 && r.keys.Mode != ModeLegacy {
			k, _ := r.keys.Base64()
			fmt.Fprintf(&access, "KEY_BASE64 %s\n", k)
		}
		if len(r.keys.HMAC) > 0 {
			_, h := r.keys.Base64()
			fmt.Fprintf(&access, "HMAC_KEY_BASE64 %s\nHMAC_DIGEST_TYPE %s\n", h, r.keys.HMACDigest)
		}
		access.WriteString(r.access + "\n")
	}
	s.fw = l.Fwknopd(t, access.String(),
		"PCAP_FILTER udp or (tcp and dst port 62201) or icmp;",
		"ENABLE_TCP_SERVER Y;", "TCPSERV_PORT 62201;",
		"ENABLE_SPA_OVER_HTTP Y;",
		"ENABLE_IPT_FORWARDING Y;", "ENABLE_IPT_LOCAL_NAT Y;",
		"GPG_EXE "+mustLook(t, "gpg")+";")

	for i, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			port := uint16(10001 + i)
			t.Run("knock", func(t *testing.T) { s.sendKnock(t, r, port) })
			t.Run("fwknop", func(t *testing.T) { s.sendFwknop(t, r, port+1000) })
		})
	}
	// The harness can fail: the sha256 stanza's keys with an MD5 HMAC,
	// or a legacy packet sent in CBC mode, open nothing.
	t.Run("refused", func(t *testing.T) {
		wrongDigest := rows[2].keys
		wrongDigest.HMACDigest = DigestMD5
		cbc := rows[7].keys
		cbc.Mode = ModeCBC
		seen := s.fw.Count("SPA Packet from IP")
		for i, k := range []Keys{wrongDigest, cbc} {
			port := uint16(9001 + i)
			w, err := new(Encoder).Encode(Request{Access: []Access{{"tcp", port}}}, k)
			if err != nil {
				t.Fatal(err)
			}
			dst := Transport{Proto: UDP, Dst: netip.AddrPortFrom(s.server, DefaultPort)}
			if err := lab.InNamespace(s.Client, func() error { return dst.Send(context.Background(), w) }); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(1500 * time.Millisecond)
		if s.fw.Count("SPA Packet from IP") <= seen {
			t.Fatal("fwknopd saw neither packet")
		}
		for _, line := range s.rules(t, "filter", "FWKNOP_INPUT") {
			if strings.Contains(line, "--dport 900") {
				t.Fatalf("a packet with the wrong HMAC digest or mode opened: %s", line)
			}
		}
	})
	if t.Failed() {
		t.Logf("fwknopd log:\n%s", s.fw.Log())
	}
}

func mustLook(t *testing.T, tool string) string {
	t.Helper()
	p, err := lab.LookPath(tool)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// sendKnock encodes the row's packet and sends it from the client
// namespace, then checks it.
func (s *spaLab) sendKnock(t *testing.T, r labRow, port uint16) {
	req := r.req(port)
	p, err := new(Encoder).EncodePacket(req, r.keys)
	if err != nil {
		t.Fatal(err)
	}
	tr := Transport{Proto: UDP, Dst: netip.AddrPortFrom(s.server, DefaultPort)}
	if r.tr != nil {
		tr = r.tr(port)
	}
	err = lab.InNamespace(s.Client, func() error { return tr.Send(context.Background(), p.Wire) })
	if err != nil {
		t.Fatal(err)
	}
	// For NAT access the port to wait on is the server port fwknopd
	// forwards (the row's port), never the NAT target's 2222.
	if req.NAT != nil && !req.NATRandPort && p.WaitPort != port {
		t.Fatalf("Packet.WaitPort %d, want the forwarded port %d", p.WaitPort, port)
	}
	out := fmt.Sprintf("wait port %d", p.WaitPort)
	r.check(t, s, port, out)
}

// sendFwknop sends the same variant with fwknop's client, keys in an rc
// file (never in argv).
func (s *spaLab) sendFwknop(t *testing.T, r labRow, port uint16) {
	var rc strings.Builder
	rc.WriteString("[row]\nSPA_SERVER " + s.server.String() + "\nNO_SAVE_ARGS Y\n")
	if r.gpg {
		_, h := r.keys.Base64()
		if h != "" {
			fmt.Fprintf(&rc, "HMAC_KEY_BASE64 %s\nHMAC_DIGEST_TYPE %s\n", h, r.keys.HMACDigest)
		}
	} else if r.keys.Mode == ModeLegacy {
		fmt.Fprintf(&rc, "KEY %s\nENCRYPTION_MODE legacy\n", r.keys.Enc)
	} else {
		k, h := r.keys.Base64()
		fmt.Fprintf(&rc, "KEY_BASE64 %s\n", k)
		if h != "" {
			fmt.Fprintf(&rc, "HMAC_KEY_BASE64 %s\nHMAC_DIGEST_TYPE %s\n", h, r.keys.HMACDigest)
		}
	}
	rc.WriteString(r.rc(port))
	path := filepath.Join(s.dir, "fwknoprc-"+strconv.Itoa(int(port)))
	if err := os.WriteFile(path, []byte(rc.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--rc-file", path, "-n", "row", "--no-save-args", "-v"}
	if strings.Contains(rc.String(), "SERVER_CMD ") {
		m := regexp.MustCompile(`SERVER_CMD (.*)\n`).FindStringSubmatch(rc.String())
		args = append(args, "--server-cmd", m[1])
		_ = os.WriteFile(path, []byte(strings.Replace(rc.String(), m[0], "", 1)), 0o600)
	}
	res := s.RunIn(t, s.Client, s.env, mustLook(t, "fwknop"), args...)
	if res.Code != 0 {
		t.Fatalf("fwknop: exit %d\n%s\n%s", res.Code, res.Stdout, res.Stderr)
	}
	r.check(t, s, port, res.Stdout+res.Stderr)
}

// rules lists the fwknopd rules of a chain (iptables -S syntax).
func (s *spaLab) rules(t *testing.T, table, chain string) []string {
	t.Helper()
	out, _ := s.Exec(s.Server, mustLook(t, "iptables"), "-w", "-t", table, "-S", chain)
	return strings.Split(out, "\n")
}

// waitRule waits for a rule of table/chain holding every part.
func (s *spaLab) waitRule(t *testing.T, table, chain string, parts ...string) string {
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

// opened checks fwknopd's ACCEPT rule for src and tcp port.
func opened(src netip.Addr) func(t *testing.T, s *spaLab, port uint16, _ string) {
	return func(t *testing.T, s *spaLab, port uint16, _ string) {
		s.waitRule(t, "filter", "FWKNOP_INPUT", "-s "+src.String()+"/32", "--dport "+strconv.Itoa(int(port)), "-j ACCEPT")
	}
}

// expiresIn checks the rule's expiry: fwknopd writes it as _exp_<unix>.
func expiresIn(t *testing.T, rule string, want int) {
	t.Helper()
	m := regexp.MustCompile(`_exp_(\d+)`).FindStringSubmatch(rule)
	if m == nil {
		t.Fatalf("rule without expiry: %s", rule)
	}
	exp, _ := strconv.ParseInt(m[1], 10, 64)
	if d := exp - time.Now().Unix(); d < int64(want)-8 || d > int64(want)+2 {
		t.Fatalf("rule expires in %d s, want about %d: %s", d, want, rule)
	}
}

// connects proves a forward: a TCP connection to the server's port
// reaches the NAT target's listener (nothing listens on port itself).
func (s *spaLab) connects(t *testing.T, port uint16) {
	t.Helper()
	err := lab.InNamespace(s.Client, func() error {
		c, err := net.DialTimeout("tcp4", netip.AddrPortFrom(s.server, port).String(), 3*time.Second)
		if err == nil {
			c.Close()
		}
		return err
	})
	if err != nil {
		t.Fatalf("connect to the forwarded port %d: %v", port, err)
	}
}

// natForward checks fwknopd's DNAT of port to target and that it carries
// a connection.
func natForward(target string, timeout int) func(t *testing.T, s *spaLab, port uint16, out string) {
	return func(t *testing.T, s *spaLab, port uint16, _ string) {
		rule := s.waitRule(t, "nat", "FWKNOP_PREROUTING", "--dport "+strconv.Itoa(int(port)), "--to-destination "+target)
		expiresIn(t, rule, timeout)
		s.connects(t, port)
	}
}

func (s *spaLab) rows(t *testing.T, serverGPG *GPGKeys) []labRow {
	gen := func(d Digest) Keys {
		k, err := GenerateKeys()
		if err != nil {
			t.Fatal(err)
		}
		k.HMACDigest = d
		return k
	}
	client := lab.ClientIP4
	udp := func(port uint16) Request { return Request{Access: []Access{{"tcp", port}}} }
	plainRC := func(port uint16) string { return fmt.Sprintf("ACCESS tcp/%d\nALLOW_IP source\n", port) }
	target := s.server.String() + ":2222"
	var rows []labRow

	// HMAC and message digests, each with its own stanza.
	for _, d := range []Digest{DigestMD5, DigestSHA1, DigestSHA256, DigestSHA384, DigestSHA512, DigestSHA3_256, DigestSHA3_512} {
		rows = append(rows, labRow{
			name: "digest " + d.String(), keys: gen(d),
			req: func(port uint16) Request {
				return Request{Access: []Access{{"tcp", port}}, Digest: d}
			},
			rc: func(port uint16) string {
				return plainRC(port) + "DIGEST_TYPE " + d.String() + "\n"
			},
			check: opened(client),
		})
	}
	rows = append(rows, labRow{
		name: "legacy iv", access: "KEY fwknoptest\nENCRYPTION_MODE legacy",
		keys: Keys{Enc: []byte("fwknoptest"), Mode: ModeLegacy},
		req:  udp, rc: plainRC, check: opened(client),
	})
	gpgKeys := gen(DigestSHA256)
	gpgKeys.Enc, gpgKeys.GPG = nil, serverGPG
	rows = append(rows, labRow{
		name: "gpg", gpg: true, keys: gpgKeys,
		access: fmt.Sprintf("GPG_HOME_DIR %s\nGPG_DECRYPT_ID %s\nGPG_ALLOW_NO_PW Y\nGPG_REMOTE_ID %s",
			filepath.Join(s.dir, "gnupg-server"), s.gpgIDs[0], s.gpgIDs[1]),
		req: udp,
		rc: func(port uint16) string {
			return plainRC(port) + fmt.Sprintf("USE_GPG Y\nGPG_HOMEDIR %s\nGPG_RECIPIENT %s\nGPG_SIGNER %s\nGPG_NO_SIGNING_PW Y\n",
				filepath.Join(s.dir, "gnupg-client"), s.gpgIDs[0], s.gpgIDs[1])
		},
		check: opened(client),
	})
	rows = append(rows, labRow{
		name: "client timeout", keys: gen(DigestSHA256),
		req: func(port uint16) Request { return Request{Access: []Access{{"tcp", port}}, ClientTimeout: 45} },
		rc:  func(port uint16) string { return plainRC(port) + "FW_TIMEOUT 45\n" },
		check: func(t *testing.T, s *spaLab, port uint16, _ string) {
			expiresIn(t, s.waitRule(t, "filter", "FWKNOP_INPUT", "-s "+client.String()+"/32", "--dport "+strconv.Itoa(int(port))), 45)
		},
	})
	nat := &NAT{Host: s.server, Port: 2222}
	rows = append(rows, labRow{
		name: "nat access", keys: gen(DigestSHA256),
		req: func(port uint16) Request { return Request{Access: []Access{{"tcp", port}}, NAT: nat} },
		rc: func(port uint16) string {
			return plainRC(port) + "NAT_ACCESS " + s.server.String() + ",2222\n"
		},
		check: natForward(target, labAccessTimeout),
	})
	rows = append(rows, labRow{
		name: "nat access timeout", keys: gen(DigestSHA256),
		req: func(port uint16) Request {
			return Request{Access: []Access{{"tcp", port}}, NAT: nat, ClientTimeout: 40}
		},
		rc: func(port uint16) string {
			return plainRC(port) + "NAT_ACCESS " + s.server.String() + ",2222\nFW_TIMEOUT 40\n"
		},
		check: natForward(target, 40),
	})
	rows = append(rows, labRow{
		name: "nat port", keys: gen(DigestSHA256),
		req: func(port uint16) Request {
			return Request{Access: []Access{{"tcp", 2222}}, NAT: &NAT{Host: s.server}, NATPort: port}
		},
		rc: func(port uint16) string {
			return fmt.Sprintf("ACCESS tcp/2222\nALLOW_IP source\nNAT_ACCESS %s\nNAT_PORT %d\n", s.server, port)
		},
		check: natForward(target, labAccessTimeout),
	})
	randPort := regexp.MustCompile(`Randomly assigned port '(\d+)'|wait port (\d+)`)
	rows = append(rows, labRow{
		name: "nat rand port", keys: gen(DigestSHA256),
		req: func(uint16) Request {
			return Request{Access: []Access{{"tcp", 2222}}, NAT: &NAT{Host: s.server}, NATRandPort: true}
		},
		rc: func(uint16) string {
			return fmt.Sprintf("ACCESS tcp/2222\nALLOW_IP source\nNAT_ACCESS %s\nNAT_RAND_PORT Y\n", s.server)
		},
		check: func(t *testing.T, s *spaLab, _ uint16, out string) {
			m := randPort.FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("no random port in %q", out)
			}
			p, _ := strconv.Atoi(m[1] + m[2])
			if p < MinRandPort {
				t.Fatalf("random port %d", p)
			}
			natForward(target, labAccessTimeout)(t, s, uint16(p), out)
		},
	})
	rows = append(rows, labRow{
		name: "local nat", keys: gen(DigestSHA256),
		req: func(port uint16) Request {
			acc := []Access{{"tcp", 2222}}
			return Request{Access: acc, NAT: LocalNAT(s.server, acc), NATLocal: true, NATPort: port}
		},
		rc: func(port uint16) string {
			return fmt.Sprintf("ACCESS tcp/2222\nALLOW_IP source\nNAT_LOCAL Y\nNAT_PORT %d\n", port)
		},
		check: func(t *testing.T, s *spaLab, port uint16, out string) {
			s.waitRule(t, "filter", "FWKNOP_INPUT", "-s "+client.String()+"/32", "--dport 2222", "-j ACCEPT")
			natForward(target, labAccessTimeout)(t, s, port, out)
		},
	})
	rows = append(rows, labRow{
		name: "local nat timeout", keys: gen(DigestSHA256),
		req: func(port uint16) Request {
			acc := []Access{{"tcp", port}}
			return Request{Access: acc, NAT: LocalNAT(s.server, acc), NATLocal: true, ClientTimeout: 35}
		},
		rc: func(port uint16) string { return plainRC(port) + "NAT_LOCAL Y\nFW_TIMEOUT 35\n" },
		check: func(t *testing.T, s *spaLab, port uint16, _ string) {
			p := strconv.Itoa(int(port))
			expiresIn(t, s.waitRule(t, "nat", "FWKNOP_PREROUTING", "--dport "+p, "--to-destination "+s.server.String()+":"+p), 35)
			s.waitRule(t, "filter", "FWKNOP_INPUT", "-s "+client.String()+"/32", "--dport "+p, "-j ACCEPT")
		},
	})
	rows = append(rows, labRow{
		name: "server command", keys: gen(DigestSHA256), access: "ENABLE_CMD_EXEC Y",
		req: func(port uint16) Request {
			return Request{Command: "touch " + filepath.Join(s.cmdDir, strconv.Itoa(int(port)))}
		},
		rc: func(port uint16) string {
			return "ALLOW_IP source\nSERVER_CMD touch " + filepath.Join(s.cmdDir, strconv.Itoa(int(port))) + "\n"
		},
		check: func(t *testing.T, s *spaLab, port uint16, _ string) {
			f := filepath.Join(s.cmdDir, strconv.Itoa(int(port)))
			if !lab.WaitFor(5*time.Second, func() bool { _, err := os.Stat(f); return err == nil }) {
				t.Fatalf("fwknopd did not run the command (no %s)", f)
			}
		},
	})
	rows = append(rows, labRow{
		name: "spoof user", keys: gen(DigestSHA256), access: "REQUIRE_USERNAME mbrtest",
		req:   func(port uint16) Request { return Request{Access: []Access{{"tcp", port}}, User: "mbrtest"} },
		rc:    func(port uint16) string { return plainRC(port) + "SPOOF_USER mbrtest\n" },
		check: opened(client),
	})
	transport := func(p Proto, dst uint16, src netip.Addr) func(uint16) Transport {
		return func(uint16) Transport {
			return Transport{Proto: p, Dst: netip.AddrPortFrom(s.server, dst), Src: src, Host: s.server.String()}
		}
	}
	for _, p := range []Proto{TCP, HTTP, UDPRaw, TCPRaw, ICMP} {
		rows = append(rows, labRow{
			name: "transport " + string(p), keys: gen(DigestSHA256),
			req: udp, tr: transport(p, DefaultPort, netip.Addr{}),
			rc:    func(port uint16) string { return plainRC(port) + "SPA_SERVER_PROTO " + string(p) + "\n" },
			check: opened(client),
		})
	}
	rows = append(rows, labRow{
		name: "rand port", keys: gen(DigestSHA256), req: udp,
		tr: func(uint16) Transport {
			p, err := RandomPort()
			if err != nil {
				t.Fatal(err)
			}
			return Transport{Proto: UDP, Dst: netip.AddrPortFrom(s.server, p)}
		},
		rc:    func(port uint16) string { return plainRC(port) + "RAND_PORT Y\n" },
		check: opened(client),
	})
	spoofed := netip.MustParseAddr("198.51.100.77")
	rows = append(rows, labRow{
		name: "spoof source", keys: gen(DigestSHA256), req: udp,
		tr: transport(UDPRaw, DefaultPort, spoofed),
		rc: func(port uint16) string {
			return plainRC(port) + "SPA_SERVER_PROTO udpraw\nSPOOF_SOURCE_IP " + spoofed.String() + "\n"
		},
		check: opened(spoofed),
	})
	resolveURL := "http://" + s.server.String() + ":8080/myip"
	rows = append(rows, labRow{
		name: "allow ip resolve", keys: gen(DigestSHA256),
		req: func(port uint16) Request {
			a, err := ResolveExternalIP(context.Background(), s.nsHTTPClient(), resolveURL, "")
			if err != nil {
				t.Fatal(err)
			}
			return Request{Access: []Access{{"tcp", port}}, AllowIP: a}
		},
		rc: func(port uint16) string {
			return fmt.Sprintf("ACCESS tcp/%d\nALLOW_IP resolve\nRESOLVE_URL %s\nRESOLVE_HTTP_ONLY Y\n", port, resolveURL)
		},
		check: func(t *testing.T, s *spaLab, port uint16, out string) {
			// The resolver answers an address of its own choosing, so
			// the rule's source proves it was asked.
			opened(resolvedIP)(t, s, port, out)
		},
	})
	return rows
}

// resolvedIP is what the lab's address resolver answers.
var resolvedIP = netip.MustParseAddr("198.51.100.55")

// resolver serves the client's "external address" over HTTP in the
// server namespace, as fwknop's resolve URL does.
func (s *spaLab) resolver(t *testing.T) {
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
		if r.URL.Path != "/myip" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "%s\n", resolvedIP)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
}

// nsHTTPClient dials from the client namespace.
func (s *spaLab) nsHTTPClient() *http.Client {
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := lab.InNamespace(s.Client, func() error {
			var err error
			c, err = (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// setupGPG makes the server's and the client's key pairs, gives fwknopd a
// GnuPG home with the server's secret and the client's public key, and
// fwknop's client one the other way round; knock reads an exported
// keyring. It returns knock's GPG keys.
func (s *spaLab) setupGPG(t *testing.T) *GPGKeys {
	serverKey, clientKey := testGPGEntities(t)
	gpg := mustLook(t, "gpg")
	export := func(name string, e *openpgp.Entity, private bool) string {
		p := filepath.Join(s.dir, name)
		if err := os.WriteFile(p, exportKey(t, e, private, true, nil), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, h := range []struct {
		ns, dir string
		secret  *openpgp.Entity
		public  *openpgp.Entity
	}{{s.Server, "gnupg-server", serverKey, clientKey}, {s.Client, "gnupg-client", clientKey, serverKey}} {
		home := filepath.Join(s.dir, h.dir)
		if err := os.Mkdir(home, 0o700); err != nil {
			t.Fatal(err)
		}
		// gpg-agent starts in the namespace and dies with it.
		t.Cleanup(func() { _, _ = s.Exec(h.ns, mustLook(t, "gpgconf"), "--homedir", home, "--kill", "gpg-agent") })
		sec, pub := export(h.dir+"-secret.asc", h.secret, true), export(h.dir+"-public.asc", h.public, false)
		s.MustExec(t, h.ns, gpg, "--homedir", home, "--batch", "--quiet", "--import", sec, pub)
		// fwknopd wants a signature of at least marginal validity: the
		// peer's key is trusted, as in fwknop's own test keyrings.
		trust := filepath.Join(s.dir, h.dir+"-trust")
		line := fmt.Sprintf("%X:6:\n", h.public.PrimaryKey.Fingerprint)
		if err := os.WriteFile(trust, []byte(line), 0o600); err != nil {
			t.Fatal(err)
		}
		s.MustExec(t, h.ns, gpg, "--homedir", home, "--batch", "--quiet", "--import-ownertrust", trust)
	}
	// fwknopd compares GPG_REMOTE_ID with the last 8 hex digits of the
	// signer's fingerprint (a short key ID).
	s.gpgIDs = [2]string{keyID(serverKey)[8:], keyID(clientKey)[8:]}
	r, err := ReadGPGKeyring(bytes.NewReader(exportKey(t, serverKey, false, true, nil)),
		bytes.NewReader(exportKey(t, clientKey, true, false, nil)))
	if err != nil {
		t.Fatal(err)
	}
	g, err := r.Keys(s.gpgIDs[0], s.gpgIDs[1], nil)
	if err != nil {
		t.Fatal(err)
	}
	return g
}
