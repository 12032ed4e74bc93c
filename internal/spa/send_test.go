package spa

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestSPAParseProto(t *testing.T) {
	for _, s := range []string{"", "UDP", "tcp", "http", "udpraw", "TCPRAW", "icmp"} {
		p, err := ParseProto(s)
		if err != nil {
			t.Errorf("ParseProto(%q): %v", s, err)
		}
		if p.Raw() != (strings.HasSuffix(strings.ToLower(s), "raw") || s == "icmp") {
			t.Errorf("%q raw = %v", s, p.Raw())
		}
	}
	if _, err := ParseProto("sctp"); !errors.Is(err, ErrBadProto) || !strings.Contains(err.Error(), `"sctp"`) {
		t.Fatalf("sctp: %v", err)
	}
	bad := []Transport{
		{Proto: UDP, Dst: netip.MustParseAddrPort("[2001:db8::2]:62201")},
		{Proto: UDP, Dst: netip.MustParseAddrPort("198.51.100.2:0")},
		{Proto: UDP, Dst: netip.MustParseAddrPort("198.51.100.2:62201"), Src: netip.MustParseAddr("198.51.100.9")},
		{Proto: UDPRaw, Dst: netip.MustParseAddrPort("198.51.100.2:62201"), Src: netip.MustParseAddr("2001:db8::9")},
	}
	for _, tr := range bad {
		if err := tr.Validate(); !errors.Is(err, ErrBadProto) {
			t.Errorf("%+v: %v", tr, err)
		}
	}
}

// TestSPASendHTTP: the request fwknop's client writes for -P http.
func TestSPASendHTTP(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, _ := io.ReadAll(c)
		got <- string(b)
	}()
	tr := Transport{Proto: HTTP, Dst: ln.Addr().(*net.TCPAddr).AddrPort(), Host: "spa.example"}
	if err := tr.Send(context.Background(), "ab+cd/ef"); err != nil {
		t.Fatal(err)
	}
	want := "GET /ab-cd_ef HTTP/1.0\r\nUser-Agent: Fwknop/2.6.10\r\nAccept: */*\r\nHost: spa.example\r\nConnection: close\r\n\r\n"
	if s := <-got; s != want {
		t.Fatalf("request %q\nwant    %q", s, want)
	}
}

func TestSPARawSegments(t *testing.T) {
	src, dst := netip.MustParseAddr("198.51.100.9"), netip.MustParseAddrPort("198.51.100.2:62201")
	payload := []byte("an odd-length payload")
	for _, tt := range []struct {
		proto  Proto
		num    int
		hdr    int
		icmpTy uint8
	}{{UDPRaw, protoUDP, 8, 0}, {TCPRaw, protoTCP, 20, 0}, {ICMP, protoICMP, 8, 0}, {ICMP, protoICMP, 8, 8}} {
		t.Run(fmt.Sprint(tt.proto, tt.icmpTy), func(t *testing.T) {
			seg, num := rawSegment(Transport{Proto: tt.proto, Dst: dst, ICMPType: tt.icmpTy}, src, 40000, payload)
			if num != tt.num || string(seg[tt.hdr:]) != string(payload) {
				t.Fatalf("protocol %d, segment % x", num, seg[:tt.hdr])
			}
			// A correct checksum sums to zero.
			if tt.proto == ICMP {
				if checksum(seg, 0) != 0 || seg[0] != tt.icmpTy {
					t.Fatalf("icmp checksum or type wrong: % x", seg[:8])
				}
				if tt.icmpTy == 8 && binary.BigEndian.Uint16(seg[6:]) != 1 {
					t.Fatalf("echo request sequence % x", seg[:8])
				}
				return
			}
			if l4Checksum(src, dst.Addr(), num, seg) != 0 {
				t.Fatalf("%s checksum wrong", tt.proto)
			}
			if binary.BigEndian.Uint16(seg[0:]) != 40000 || binary.BigEndian.Uint16(seg[2:]) != 62201 {
				t.Fatalf("ports % x", seg[:4])
			}
			if tt.proto == TCPRaw && (seg[13] != 0x02 || binary.BigEndian.Uint32(seg[4:]) != 1) {
				t.Fatalf("tcp flags %#x seq %d", seg[13], binary.BigEndian.Uint32(seg[4:]))
			}
		})
	}
}

func TestSPAResolve(t *testing.T) {
	answers := map[string]string{
		"/plain":   "198.51.100.1",
		"/newline": "198.51.100.7\n",
		"/zeros":   "010.001.002.003 trailing",
		"/html":    "<html>198.51.100.1</html>",
		"/v6":      "2001:db8::1",
		"/big":     "300.1.1.1",
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("User-Agent") != DefaultUserAgent {
			http.Error(w, "agent", http.StatusForbidden)
			return
		}
		if a, ok := answers[r.URL.Path]; ok {
			io.WriteString(w, a)
			return
		}
		if r.URL.Path == "/huge" {
			io.WriteString(w, strings.Repeat("9", 1<<20))
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	ok := map[string]string{"/plain": "198.51.100.1", "/newline": "198.51.100.7", "/zeros": "10.1.2.3"}
	for path, want := range ok {
		a, err := ResolveExternalIP(context.Background(), srv.Client(), srv.URL+path, "")
		if err != nil || a.String() != want {
			t.Errorf("%s: %v, %v; want %s", path, a, err, want)
		}
	}
	for _, path := range []string{"/html", "/v6", "/big", "/huge", "/missing"} {
		if _, err := ResolveExternalIP(context.Background(), srv.Client(), srv.URL+path, ""); !errors.Is(err, ErrResolve) {
			t.Errorf("%s: %v", path, err)
		}
	}
	if _, err := ResolveExternalIP(context.Background(), nil, "ftp://example.org/", ""); !errors.Is(err, ErrResolve) {
		t.Errorf("ftp: %v", err)
	}
}
