//go:build linux

package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Fwknopd is a real fwknopd running in the server namespace, sniffing the
// server's veth.
type Fwknopd struct {
	*Proc
	Dir    string // configuration, digest cache, pid file and run directory
	Conf   string // fwknopd.conf
	Access string // access.conf
}

// FwknopAccess returns an access.conf stanza for any source with the given
// base64 keys (hmacB64 may be empty for no HMAC), ports to open ("tcp/22")
// and rule timeout in seconds.
func FwknopAccess(keyB64, hmacB64, openPorts string, timeout int) string {
	var b strings.Builder
	b.WriteString("SOURCE            ANY\n")
	fmt.Fprintf(&b, "KEY_BASE64        %s\n", keyB64)
	if hmacB64 != "" {
		fmt.Fprintf(&b, "HMAC_KEY_BASE64   %s\n", hmacB64)
	}
	fmt.Fprintf(&b, "OPEN_PORTS        %s\n", openPorts)
	fmt.Fprintf(&b, "FW_ACCESS_TIMEOUT %d\n", timeout)
	return b.String()
}

// Fwknopd writes access (access.conf text) and a fwknopd.conf with
// PCAP_INTF set to the server's veth plus conf lines, then starts fwknopd
// in the foreground and verbose in the server namespace, with its own
// digest cache, pid file and run directory. fwknopd creates its iptables
// chain FWKNOP_INPUT and jumps to it from the top of INPUT, ahead of any
// DROP rule. It returns once fwknopd sniffs.
func (l *Lab) Fwknopd(t testing.TB, access string, conf ...string) *Fwknopd {
	t.Helper()
	Require(t, "fwknopd", "iptables")
	bin, _ := LookPath("fwknopd")
	dir, err := os.MkdirTemp(l.Dir, "fwknopd-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	lines := append([]string{"PCAP_INTF " + l.ServerIf + ";"}, conf...)
	f := &Fwknopd{Dir: dir, Conf: filepath.Join(dir, "fwknopd.conf"), Access: filepath.Join(dir, "access.conf")}
	if err := os.WriteFile(f.Conf, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.Access, []byte(access), 0o600); err != nil {
		t.Fatal(err)
	}
	f.Proc = l.Start(t, l.Server, bin, "-f", "-v",
		"-c", f.Conf, "-a", f.Access,
		"-d", filepath.Join(dir, "digest.cache"),
		"-p", filepath.Join(dir, "fwknopd.pid"),
		"-r", dir)
	if !WaitFor(15*time.Second, func() bool {
		return strings.Contains(f.Output(), "main event loop") || f.Exited()
	}) || f.Exited() {
		t.Fatalf("lab: fwknopd did not start:\n%s", f.Output())
	}
	return f
}

// Log returns fwknopd's verbose output so far.
func (f *Fwknopd) Log() string { return f.Output() }

// Count returns how often s occurs in the output so far.
func (f *Fwknopd) Count(s string) int { return strings.Count(f.Output(), s) }

// WaitCount waits up to timeout for s to occur at least n times.
func (f *Fwknopd) WaitCount(s string, n int, timeout time.Duration) bool {
	return WaitFor(timeout, func() bool { return f.Count(s) >= n })
}
