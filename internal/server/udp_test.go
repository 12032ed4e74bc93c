package server

import (
	"bytes"
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// TestListenUDP checks the knock sockets listen mode reads on every
// platform: on Windows they are plain Winsock sockets, not the net
// package's.
func TestListenUDP(t *testing.T) {
	for _, tt := range []struct {
		name, addr string
		to         net.IP // where a datagram for it goes
	}{
		{"ipv4", "127.0.0.1:0", net.IPv4(127, 0, 0, 1)},
		{"ipv6", "[::1]:0", net.IPv6loopback},
		{"every address, ipv4", ":0", net.IPv4(127, 0, 0, 1)},
		{"every address, ipv6", ":0", net.IPv6loopback},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rx, err := ListenUDP(tt.addr)
			if err != nil {
				if tt.to.To4() == nil {
					noIPv6(t, err)
				}
				t.Fatal(err)
			}
			defer rx.Close()
			txAddr := "127.0.0.1:0"
			if tt.to.To4() == nil {
				txAddr = "[::1]:0"
			}
			tx, err := ListenUDP(txAddr)
			if err != nil {
				noIPv6(t, err)
			}
			defer tx.Close()
			port := rx.LocalAddr().(*net.UDPAddr).Port
			if port == 0 {
				t.Fatalf("local address %v has no port", rx.LocalAddr())
			}
			payload := bytes.Repeat([]byte("knock"), 20)
			if _, err := tx.WriteTo(payload, &net.UDPAddr{IP: tt.to, Port: port}); err != nil {
				t.Fatal(err)
			}
			// A short buffer gets the start of the datagram, as with the
			// net package.
			buf := make([]byte, 10)
			n, from, err := rx.ReadFrom(buf)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf[:n], payload[:10]) {
				t.Fatalf("read %q, want %q", buf[:n], payload[:10])
			}
			fa, ok := from.(*net.UDPAddr)
			if !ok || !fa.IP.Equal(tt.to) || fa.Port != tx.LocalAddr().(*net.UDPAddr).Port {
				t.Fatalf("from %v, want %v port %d", from, tt.to, tx.LocalAddr().(*net.UDPAddr).Port)
			}
		})
	}
}

// TestListenUDPClose checks that Close ends a read in progress, which is
// how listen mode stops its readers.
func TestListenUDPClose(t *testing.T) {
	c, err := ListenUDP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := c.ReadFrom(make([]byte, 64))
		done <- err
	}()
	time.Sleep(50 * time.Millisecond) // let the read block
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read ended with %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the read in progress")
	}
	if _, _, err := c.ReadFrom(make([]byte, 64)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after Close: %v, want net.ErrClosed", err)
	}
	if err := c.Close(); err == nil {
		t.Fatal("a second Close succeeded")
	}
}

// noIPv6 skips a test on a machine without IPv6 loopback, but in CI,
// whose machines have it, fails.
func noIPv6(t *testing.T, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("no IPv6 loopback in CI: %v", err)
	}
	t.Skipf("no IPv6 here (outside CI, so skipping): %v", err)
}
