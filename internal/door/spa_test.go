package door

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/a-knock/knock/internal/profiles"
	"github.com/a-knock/knock/internal/spa"
)

const (
	spaTestKey  = "wzNP62oPPgEc+kXDPQLHPOayQBuNbYUTPP+QrErNDmg="
	spaTestHMAC = "Yh+xizBnl6FotC5ec7FanVGClRMlsOAPh2u6eovnerfBVKwaVKzjGoblFMHMc593TNyi0dWn4opLoTIV9q/ttg=="
)

func spaProfile(name string, edit func(c *profiles.SPAConfig)) *profiles.Profile {
	c := &profiles.SPAConfig{KeyBase64: spaTestKey, HMACKeyBase64: spaTestHMAC, UseHMAC: true, Access: []string{"tcp/22"}}
	edit(c)
	return &profiles.Profile{Name: name, Kind: profiles.KindSPA, Host: "127.0.0.1", Family: "inet", SPA: c}
}

// TestSPAOpenerRounds: every round of the one retry loop sends a fresh
// packet over the profile's transport, until the wait port opens.
func TestSPAOpenerRounds(t *testing.T) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	// The door: a port that opens once the second packet arrived.
	port := freePort(t)
	udpPort := uint16(pc.LocalAddr().(*net.UDPAddr).Port)
	opts := testStores(t, "")
	p := spaProfile("fw", func(c *profiles.SPAConfig) { c.ServerPort = udpPort; c.Digest = "sha512" })
	p.WaitPort = port
	if err := opts.Stores.Add(p, profiles.StoreFile); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 10)
	go func() {
		buf := make([]byte, 2048)
		for i := 0; i < 10; i++ {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			got <- string(buf[:n])
			if i == 1 {
				openPort(t, port)
			}
		}
	}()
	var log bytes.Buffer
	o := opts
	o.Timeout, o.Retries, o.Log, o.Verbose = 8*time.Second, 5, &log, true
	d, err := Lookup(context.Background(), "fw", o)
	if err != nil {
		t.Fatal(err)
	}
	res, err := d.Open(context.Background())
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if !res.Verified || res.Rounds != 2 || res.Port != port {
		t.Fatalf("result %+v, want verified after 2 rounds on %d\n%s", res, port, log.String())
	}
	a, b := <-got, <-got
	if a == b || len(a) < spa.MinWireLen {
		t.Fatalf("the second round replayed the packet (%d characters)", len(a))
	}
	if !strings.Contains(log.String(), "spa udp") || !strings.Contains(log.String(), fmt.Sprintf("-> 127.0.0.1:%d (tcp/22 for source address)", udpPort)) {
		t.Fatalf("-v log:\n%s", log.String())
	}
}

// freePort returns a TCP port nothing listens on.
func freePort(t *testing.T) uint16 {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

// openPort listens on port until the test ends.
func openPort(t *testing.T, port uint16) {
	ln, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(int(port)))
	if err != nil {
		t.Error(err)
		return
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
}

// TestSPAOpenerWaitPort: the port an SPA door waits on, in dry runs.
func TestSPAOpenerWaitPort(t *testing.T) {
	opts := testStores(t, "Host cmd\n  HostName 127.0.0.1\n  Port 2222\n")
	for _, p := range []*profiles.Profile{
		spaProfile("natrand", func(c *profiles.SPAConfig) {
			c.Access, c.NATAccess, c.NATRandPort = []string{"tcp/2222"}, "192.0.2.10", true
		}),
		spaProfile("cmd", func(c *profiles.SPAConfig) { c.Access, c.Command = nil, "touch /tmp/x" }),
		spaProfile("nat", func(c *profiles.SPAConfig) { c.NATAccess, c.NATPort = "192.0.2.10,22", 55000 }),
		spaProfile("raw", func(c *profiles.SPAConfig) { c.Proto, c.SpoofSource, c.RandPort = "udpraw", "198.51.100.77", true }),
	} {
		if p.Name == "nat" {
			p.WaitPort = 55000
		}
		if err := opts.Stores.Add(p, profiles.StoreFile); err != nil {
			t.Fatal(err)
		}
	}
	run := func(name string, wait uint16) string {
		t.Helper()
		var out bytes.Buffer
		o := opts
		o.DryRun, o.Out, o.Retries, o.WaitPort = true, &out, 2, wait
		d, err := Lookup(context.Background(), name, o)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Open(context.Background()); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	// A random NAT port is drawn once and waited on.
	out := run("natrand", 0)
	m := regexp.MustCompile(`from random port (\d+).*\nthen wait up to 10s for tcp port (\d+),`).FindStringSubmatch(out)
	if m == nil || m[1] != m[2] {
		t.Fatalf("natrand:\n%s", out)
	}
	if out := run("natrand", 443); !strings.Contains(out, "for tcp port 443,") {
		t.Fatalf("--wait over the random NAT port:\n%s", out)
	}
	// A command opens no port: not even the Host entry's is waited on.
	out = run("cmd", 0)
	if !strings.Contains(out, `asking for the server command "touch /tmp/x" for source address`) || strings.Contains(out, "then wait") {
		t.Fatalf("cmd:\n%s", out)
	}
	if out := run("nat", 0); !strings.Contains(out, "via NAT to 192.0.2.10,22 from port 55000") || !strings.Contains(out, "tcp port 55000,") {
		t.Fatalf("nat:\n%s", out)
	}
	if out := run("raw", 0); !strings.Contains(out, "to 127.0.0.1 (a random port) over udpraw from 198.51.100.77, to a random port each packet") {
		t.Fatalf("raw:\n%s", out)
	}
}
