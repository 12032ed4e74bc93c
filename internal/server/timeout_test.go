package server

import (
	"strings"
	"testing"
	"time"

	"github.com/a-knock/knock/internal/knockdconf"
	"github.com/a-knock/knock/internal/seq"
)

// timeoutConf has two doors whose seq_timeouts differ from each other and
// from knockd's default (25 s); the second spells the key as knockd's
// alias.
const timeoutConf = `[options]
  Interface = eth0

[short]
  sequence    = 7001,7002,7003
  seq_timeout = 3
  tcpflags    = syn

[long]
  Sequence = 8001:udp,8002,8003
  Timeout  = 7
`

// TestServeDoorSeqTimeout builds the server from knockd.conf text as
// `knock serve` does (knockdconf, New, the detector Run builds) and feeds
// it knocks stamped by a fake clock: each door's sequence opens when its
// last knock comes within that door's own seq_timeout (whole seconds from
// the first knock) and not after.
func TestServeDoorSeqTimeout(t *testing.T) {
	conf, err := knockdconf.Parse("timeouts.conf", strings.NewReader(timeoutConf))
	if err != nil {
		t.Fatal(err)
	}
	ms := time.Millisecond
	tests := []struct {
		door string
		last time.Duration // when the last knock comes, after the first
		want bool
	}{
		{"short", 2900 * ms, true},
		{"short", 3000 * ms, false},
		{"short", 5000 * ms, false}, // inside the other door's timeout
		{"long", 5000 * ms, true},   // outside the other door's timeout
		{"long", 6900 * ms, true},
		{"long", 7000 * ms, false},
		{"long", 7900 * ms, false},
	}
	for _, tc := range tests {
		t.Run(tc.door+"/"+tc.last.String(), func(t *testing.T) {
			var opened []string
			srv, err := New(conf, Options{Mode: Listen, Events: func(e Event) {
				if e.Kind == EventOpen {
					opened = append(opened, e.Door)
				}
			}})
			if err != nil {
				t.Fatal(err)
			}
			srv.det = srv.newDetector(nil)
			var sq seq.Sequence
			for _, c := range conf.Doors {
				if c.Name == tc.door {
					sq = c.Sequence
				}
			}
			if len(sq) != 3 {
				t.Fatalf("door %s: sequence %v", tc.door, sq)
			}
			for i, k := range sq {
				at := t0.Add(tc.last * time.Duration(i) / time.Duration(len(sq)-1))
				p := Packet{Src: cliA, Dst: srvIP, Proto: k.Proto, Port: k.Port, Time: at}
				if k.Proto == seq.TCP {
					p.Flags = seq.SYN
				}
				srv.handle(p)
			}
			srv.pending.Wait()
			got := len(opened) == 1 && opened[0] == tc.door
			if got != tc.want || len(opened) > 1 {
				t.Errorf("last knock %s after the first: opened %v, want %s open: %v", tc.last, opened, tc.door, tc.want)
			}
		})
	}
}
