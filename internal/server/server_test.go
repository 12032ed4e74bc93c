package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/a-knock/knock/internal/knockdconf"
	"github.com/a-knock/knock/internal/sender"
	"github.com/a-knock/knock/internal/seq"
)

var lo = netip.MustParseAddr("127.0.0.1")

// testServer runs a listen-mode server on loopback with pre-opened TCP
// knock ports and collects its events.
type testServer struct {
	t      *testing.T
	srv    *Server
	events chan Event
	ports  []uint16
}

func startTestServer(t *testing.T, nports int, conf func(ports []uint16) string, gates []GateSpec) *testServer {
	t.Helper()
	ts := &testServer{t: t, events: make(chan Event, 256)}
	var lns []net.Listener
	for i := 0; i < nports; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, l)
		ts.ports = append(ts.ports, uint16(l.Addr().(*net.TCPAddr).Port))
	}
	c, err := knockdconf.Parse("test.conf", strings.NewReader(conf(ts.ports)))
	if err != nil {
		t.Fatal(err)
	}
	ts.srv, err = New(c, Options{Mode: Listen, Listeners: lns, Gates: gates, Events: func(e Event) { ts.events <- e }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ts.srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	ts.wait(EventReady)
	return ts
}

func (ts *testServer) wait(kind EventKind) Event {
	ts.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e := <-ts.events:
			if e.Kind == kind {
				return e
			}
		case <-timeout:
			ts.t.Fatalf("no event %d", kind)
		}
	}
}

func (ts *testServer) knock(ports ...uint16) {
	ts.t.Helper()
	s, err := sender.New(lo, sender.Options{Method: sender.Connect, Delay: 5 * time.Millisecond})
	if err != nil {
		ts.t.Fatal(err)
	}
	defer s.Close()
	var sq seq.Sequence
	for _, p := range ports {
		sq = append(sq, seq.Knock{Port: p, Proto: seq.TCP})
	}
	if err := s.Send(context.Background(), sq); err != nil {
		ts.t.Fatal(err)
	}
}

func greet(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	return bufio.NewReader(c).ReadString('\n')
}

func backend(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			fmt.Fprintln(c, "hello")
			c.Close()
		}
	}()
	return l.Addr().String()
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestServeListenGate(t *testing.T) {
	gate := freeAddr(t)
	ts := startTestServer(t, 3, func(p []uint16) string {
		return fmt.Sprintf("[open]\nsequence = %d,%d,%d\ngate = open\ncmd_timeout = 60\n[close]\nsequence = %d,%d,%d\ngate = close\n",
			p[0], p[1], p[2], p[2], p[1], p[0])
	}, []GateSpec{{Listen: gate, Backend: backend(t)}})
	if _, err := greet(gate); err == nil {
		t.Fatal("gate open before the knock")
	}
	ts.knock(ts.ports[0], ts.ports[1], ts.ports[2])
	ts.wait(EventAdmit)
	if msg, err := greet(gate); err != nil || msg != "hello\n" {
		t.Fatalf("after knock: %q %v", msg, err)
	}
	ts.knock(ts.ports[2], ts.ports[1], ts.ports[0])
	ts.wait(EventRevoke)
	if _, err := greet(gate); err == nil {
		t.Fatal("gate open after the close sequence")
	}
}

func TestServeGateExpires(t *testing.T) {
	gate := freeAddr(t)
	ts := startTestServer(t, 1, func(p []uint16) string {
		return fmt.Sprintf("[open]\nsequence = %d\ngate = open\ncmd_timeout = 1\n", p[0])
	}, []GateSpec{{Listen: gate, Backend: backend(t)}})
	ts.knock(ts.ports[0])
	ts.wait(EventAdmit)
	g := ts.srv.Gates()[0]
	if !g.Admitted(lo) {
		t.Fatal("not admitted")
	}
	ok := false
	for i := 0; i < 100 && !ok; i++ {
		time.Sleep(50 * time.Millisecond)
		ok = !g.Admitted(lo)
	}
	if !ok {
		t.Fatal("admission did not expire after cmd_timeout")
	}
	if _, err := greet(gate); err == nil {
		t.Fatal("gate still open after cmd_timeout")
	}
}

func TestServeOneTimeSequencesListen(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "ots")
	ts := startTestServer(t, 4, func(p []uint16) string {
		body := fmt.Sprintf("# one-time sequences\n %d,%d\n %d,%d\n", p[0], p[1], p[2], p[3])
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		touch, _ := lookTouch()
		return fmt.Sprintf("[ots]\none_time_sequences = %s\ncommand = %s %s/opened.%%IP%%\n", file, touch, dir)
	}, nil)
	p := ts.ports
	ts.knock(p[0], p[1])
	ts.wait(EventOpen)
	ts.wait(EventSequence)
	b, _ := os.ReadFile(file)
	if want := fmt.Sprintf("# one-time sequences\n#%d,%d\n %d,%d\n", p[0], p[1], p[2], p[3]); string(b) != want {
		t.Fatalf("file after first use:\n%s\nwant\n%s", b, want)
	}
	// The used sequence no longer opens; the next one does.
	ts.knock(p[0], p[1])
	time.Sleep(200 * time.Millisecond)
	if st := ts.srv.Stats(); st.Opened != 1 {
		t.Fatalf("used sequence opened again: %+v", st)
	}
	ts.knock(p[2], p[3])
	ts.wait(EventOpen)
	e := ts.wait(EventDisabled)
	if !strings.Contains(e.Text, "no more sequences") {
		t.Errorf("disabled event %q", e.Text)
	}
	b, _ = os.ReadFile(file)
	if strings.Count(string(b), "#") != 3 {
		t.Errorf("file after exhaustion:\n%s", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "opened.127.0.0.1")); err != nil {
		t.Error("command did not run")
	}
}

func TestServeNewErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("# nothing\n"), 0o600)
	tests := []struct {
		name, conf string
		opts       Options
		want       string
	}{
		{"shell syntax", "[d]\nsequence = 1\ncommand = iptables -A x && echo\n", Options{Mode: Listen}, `t.conf:3: start_command: '&' at offset`},
		{"flags in listen mode", "[d]\nsequence = 1\ntcpflags = fin,!ack\n", Options{Mode: Listen}, `t.conf:3: tcpflags: listen mode sees TCP knocks only as connections`},
		{"target in listen mode", "[d]\nsequence = 1\ntarget = 198.51.100.2\n", Options{Mode: Listen}, `t.conf:3: target: target needs sniff mode`},
		{"bad target", "[d]\nsequence = 1\ntarget = nowhere\n", Options{Mode: Sniff}, `t.conf:3: target: invalid address "nowhere"`},
		{"exhausted ots", "[d]\none_time_sequences = " + empty + "\n", Options{Mode: Listen}, `t.conf:2: one_time_sequences: ` + empty + `: no valid sequence`},
		{"missing ots", "[d]\none_time_sequences = " + empty + "x\n", Options{Mode: Listen}, `t.conf:2: one_time_sequences: stat`},
		{"gate without --gate", "[d]\nsequence = 1\ngate = open\n", Options{Mode: Listen}, `t.conf:3: gate: gate = open but no gate is configured`},
		{"--gate without door", "[d]\nsequence = 1\n", Options{Mode: Listen, Gates: []GateSpec{{":1", ":2"}}}, `t.conf: --gate is set but no door has gate = open`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := knockdconf.Parse("t.conf", strings.NewReader(tc.conf))
			if err != nil {
				t.Fatal(err)
			}
			_, err = New(c, tc.opts)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("err %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestServePortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	c, _ := knockdconf.Parse("t.conf", strings.NewReader(fmt.Sprintf("[d]\n\nsequence = %d\n", port)))
	s, err := New(c, Options{Mode: Listen, Bind: []netip.Addr{lo}})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Run(context.Background())
	want := fmt.Sprintf("t.conf:3: sequence: cannot listen on %d/tcp: ", port)
	var ce *knockdconf.Error
	if err == nil || !strings.HasPrefix(err.Error(), want) || !errors.As(err, &ce) {
		t.Fatalf("err %v\nwant %s...", err, want)
	}
}

func TestServeParseGateSpec(t *testing.T) {
	if g, err := ParseGateSpec(":2222=127.0.0.1:22"); err != nil || g.Listen != ":2222" || g.Backend != "127.0.0.1:22" {
		t.Errorf("%+v %v", g, err)
	}
	for _, bad := range []string{"", ":2222", "=x", "a=b", ":0=:22", "[::1]:22=nohost",
		":99999=127.0.0.1:22", ":2222=127.0.0.1:65536", ":nosuchservice=127.0.0.1:22", ":2222=127.0.0.1:-1"} {
		if _, err := ParseGateSpec(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
