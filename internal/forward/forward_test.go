package forward

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/a-knock/knock/internal/door"
	"github.com/a-knock/knock/internal/exit"
	"github.com/a-knock/knock/internal/profiles"
	"github.com/a-knock/knock/internal/seq"
)

func TestParseSpec(t *testing.T) {
	for in, want := range map[string]string{
		"15432:5432":           "127.0.0.1:15432:5432",
		"localhost:8080:80":    "127.0.0.1:8080:80",
		"127.0.0.2:8080:80":    "127.0.0.2:8080:80",
		"[::1]:8080:80":        "[::1]:8080:80",
		"*:8080:80":            "[::]:8080:80",
		"198.51.100.7:2222:22": "198.51.100.7:2222:22",
	} {
		s, err := ParseSpec(in)
		if err != nil || s.String() != want {
			t.Errorf("ParseSpec(%q) = %v %v, want %s", in, s, err, want)
		}
		if again, err := ParseSpec(s.String()); err != nil || again != s {
			t.Errorf("ParseSpec(%q) does not read back: %v %v", s, again, err)
		}
	}
	for _, in := range []string{"70000:22", "x:1", "1:x", "22", "", ":22", "1:0", "host.example:1:2", "[fe80::1%eth0]:1:2", "1:2:3:4"} {
		if _, err := ParseSpec(in); err == nil || !strings.Contains(err.Error(), in) {
			t.Errorf("ParseSpec(%q) = %v, want an error naming it", in, err)
		}
	}
	remote, _ := ParseSpec("*:8080:80")
	if remote.Check(false) == nil || remote.Check(true) != nil {
		t.Error("a spec on every interface needs allowRemote")
	}
	local, _ := ParseSpec("[::1]:8080:80")
	if local.Check(false) != nil {
		t.Error("loopback refused")
	}
}

// echoService answers every connection by echoing what it reads.
func echoService(t *testing.T) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

// knockSink counts the knock datagrams on one UDP port.
func knockSink(t *testing.T) (uint16, *atomic.Int32) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	var n atomic.Int32
	go func() {
		buf := make([]byte, 64)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
			n.Add(1)
		}
	}()
	return uint16(pc.LocalAddr().(*net.UDPAddr).Port), &n
}

func freePort(t *testing.T) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

// labDoor is a profile whose open and close knocks go to sinks on
// loopback and whose wait port is the echo service.
func labDoor(t *testing.T, service uint16) (*door.Door, *atomic.Int32, *atomic.Int32) {
	t.Helper()
	open, opens := knockSink(t)
	cl, closes := knockSink(t)
	dir := t.TempDir()
	st, err := profiles.New(profiles.Options{Dir: filepath.Join(dir, "knock"), NoKeyring: true})
	if err != nil {
		t.Fatal(err)
	}
	p := &profiles.Profile{Name: "lab", Host: "127.0.0.1", WaitPort: service,
		Open: seq.Sequence{{Port: open, Proto: seq.UDP}}.String(), Close: seq.Sequence{{Port: cl, Proto: seq.UDP}}.String()}
	if err := st.Add(p, profiles.StoreFile); err != nil {
		t.Fatal(err)
	}
	t.Setenv(door.EnvOpened, "")
	d, err := door.Lookup(context.Background(), "lab", door.Options{Stores: st, SSHConfig: os.DevNull, Retries: 3, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return d, opens, closes
}

func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cond()
}

// Twenty connections at once: one knock for all of them, each relayed
// both ways, the door closed once after the last one and the linger; the
// next connection knocks again.
func TestForwardSharesOneKnock(t *testing.T) {
	service := echoService(t)
	d, opens, closes := labDoor(t, service)
	spec := Spec{Bind: DefaultBind, Local: freePort(t), Remote: service}
	var status bytes.Buffer
	f, err := Listen(d, []Spec{spec}, Options{Linger: 300 * time.Millisecond, Status: &syncWriter{w: &status}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Serve(ctx) }()

	local := netip.AddrPortFrom(spec.Bind, spec.Local).String()
	talk := func(msg string) error {
		c, err := net.DialTimeout("tcp", local, 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, msg); err != nil {
			return err
		}
		c.(*net.TCPConn).CloseWrite() // half-close: the echo still comes back
		got, err := io.ReadAll(c)
		if err != nil {
			return err
		}
		if string(got) != msg {
			return errors.New("echo " + string(got) + ", want " + msg)
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- talk(strings.Repeat("x", 1000+i))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := opens.Load(); n != 1 {
		t.Fatalf("%d open knocks for 20 connections, want 1", n)
	}
	if !waitFor(3*time.Second, func() bool { return closes.Load() == 1 }) {
		t.Fatalf("%d close knocks after the linger, want 1", closes.Load())
	}
	if err := talk("again"); err != nil {
		t.Fatal(err)
	}
	if n := opens.Load(); n != 2 {
		t.Fatalf("a connection after the close: %d open knocks, want 2", n)
	}
	// The forwarder counts a connection as ended a moment after the client.
	var lines []string
	if !waitFor(3*time.Second, func() bool {
		lines = f.Lines()
		return len(lines) == 1 && strings.Contains(lines[0], "2 knock(s)") && strings.Contains(lines[0], "21 conn(s), 0 active")
	}) {
		t.Errorf("status %q", lines)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Serve closed the door it had open.
	if !waitFor(3*time.Second, func() bool { return closes.Load() == 2 }) {
		t.Fatalf("%d close knocks after Serve ended, want 2", closes.Load())
	}
}

// A busy local port is bad input, before any knock.
func TestListenBusyPort(t *testing.T) {
	service := echoService(t)
	d, opens, _ := labDoor(t, service)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := uint16(ln.Addr().(*net.TCPAddr).Port)
	_, err = Listen(d, []Spec{{Bind: DefaultBind, Local: freePort(t), Remote: 1}, {Bind: DefaultBind, Local: busy, Remote: service}}, Options{})
	if err == nil || exit.Code(err) != exit.UsageCode || !strings.Contains(err.Error(), "cannot listen") {
		t.Fatalf("busy port: %v", err)
	}
	if opens.Load() != 0 {
		t.Fatal("knocked before listening")
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

// A group starts a forwarder, lists it, and stops it (closing its door)
// on a second toggle or at Stop.
func TestGroup(t *testing.T) {
	service := echoService(t)
	d, opens, closes := labDoor(t, service)
	spec := Spec{Bind: DefaultBind, Local: freePort(t), Remote: service}
	var g Group
	start := func() (*Forwarder, error) { return Listen(d, []Spec{spec}, Options{Linger: time.Hour}) }
	if on, err := g.Toggle("lab", start); !on || err != nil {
		t.Fatalf("%v %v", on, err)
	}
	if l := g.Lines(); len(l) != 1 || !strings.Contains(l[0], "-> lab:") {
		t.Fatalf("lines %q", l)
	}
	c, err := net.DialTimeout("tcp", netip.AddrPortFrom(spec.Bind, spec.Local).String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "x")
	buf := make([]byte, 1)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if on, err := g.Toggle("lab", start); on || err != nil {
		t.Fatalf("second toggle: %v %v", on, err)
	}
	if opens.Load() != 1 || !waitFor(3*time.Second, func() bool { return closes.Load() == 1 }) || len(g.Lines()) != 0 {
		t.Fatalf("opens %d closes %d lines %q", opens.Load(), closes.Load(), g.Lines())
	}
	g.Stop()
}
