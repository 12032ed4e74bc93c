package relay

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// listen starts a loopback TCP server that handles one connection with
// serve, and returns a connection to it.
func listen(t testing.TB, serve func(c *net.TCPConn)) *net.TCPConn {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.AcceptTCP()
		if err != nil {
			return
		}
		defer c.Close()
		serve(c)
	}()
	c, err := net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// echo copies everything back and closes its write half after the
// client's FIN: only a relay that half-closes gets the whole echo back.
func echo(c *net.TCPConn) {
	_, _ = io.Copy(c, c)
	_ = c.CloseWrite()
}

type result struct {
	st  Stats
	err error
}

func relayAsync(ctx context.Context, in io.Reader, out io.Writer, conn *net.TCPConn) chan result {
	ch := make(chan result, 1)
	go func() {
		st, err := Relay(ctx, in, out, conn)
		ch <- result{st, err}
	}()
	return ch
}

func wait(t *testing.T, ch chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("relay did not return")
	}
	return result{}
}

func TestProxyRelayPipesHalfClose(t *testing.T) {
	data := make([]byte, 8<<20+123)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	conn := listen(t, echo)
	inR, inW, _ := os.Pipe()
	outR, outW, _ := os.Pipe()
	defer inR.Close()
	defer outR.Close()
	ch := relayAsync(context.Background(), inR, outW, conn)
	go func() {
		_, _ = inW.Write(data)
		inW.Close() // end of local input: the relay must half-close, not stop
	}()
	got, err := io.ReadAll(outR) // ends when the relay closes out
	if err != nil {
		t.Fatal(err)
	}
	r := wait(t, ch)
	if r.err != nil {
		t.Fatalf("relay: %v", r.err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("echo differs: got %d bytes, want %d", len(got), len(data))
	}
	if r.st.Up != int64(len(data)) || r.st.Down != int64(len(data)) {
		t.Fatalf("stats %+v, want %d each way", r.st, len(data))
	}
}

func TestProxyRelayReaderWriter(t *testing.T) {
	data := bytes.Repeat([]byte("knock "), 100000)
	conn := listen(t, echo)
	var out bytes.Buffer
	r := wait(t, relayAsync(context.Background(), bytes.NewReader(data), &out, conn))
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("echo differs: %d bytes, want %d", out.Len(), len(data))
	}
}

func TestProxyRelayRemoteEnds(t *testing.T) {
	old := Grace
	Grace = 200 * time.Millisecond
	defer func() { Grace = old }()
	conn := listen(t, func(c *net.TCPConn) { _, _ = c.Write([]byte("bye\n")) })
	inR, inW, _ := os.Pipe() // never closed by the writer: the local side stays open
	defer inW.Close()
	defer inR.Close()
	outR, outW, _ := os.Pipe()
	defer outR.Close()
	ch := relayAsync(context.Background(), inR, outW, conn)
	got, _ := io.ReadAll(outR)
	r := wait(t, ch)
	if string(got) != "bye\n" || r.err != nil {
		t.Fatalf("got %q, err %v", got, r.err)
	}
	// The local input is a pipe again in blocking mode and still usable.
	go func() { _, _ = inW.Write([]byte("x")) }()
	b := make([]byte, 1)
	if _, err := inR.Read(b); err != nil || b[0] != 'x' {
		t.Fatalf("stdin after relay: %q %v", b, err)
	}
}

func TestProxyRelayCancel(t *testing.T) {
	conn := listen(t, func(c *net.TCPConn) { _, _ = io.Copy(io.Discard, c) })
	inR, inW, _ := os.Pipe()
	defer inW.Close()
	defer inR.Close()
	outR, outW, _ := os.Pipe()
	defer outR.Close()
	ctx, cancel := context.WithCancel(context.Background())
	ch := relayAsync(ctx, inR, outW, conn)
	time.Sleep(50 * time.Millisecond)
	cancel()
	r := wait(t, ch)
	if r.err != nil {
		t.Fatalf("relay after cancel: %v", r.err)
	}
}

// BenchmarkRelay measures throughput through pipes, as a ProxyCommand
// sees them, to and from a loopback TCP peer: "up" is stdin to the
// socket, "down" the socket to stdout. Compare with socat by running the
// same transfer through it.
func BenchmarkRelay(b *testing.B) {
	const chunk = 1 << 20
	buf := make([]byte, chunk)
	b.Run("up", func(b *testing.B) {
		got := make(chan int64, 1)
		conn := listen(b, func(c *net.TCPConn) {
			n, _ := io.Copy(io.Discard, c)
			got <- n
		})
		inR, inW, _ := os.Pipe()
		outR, outW, _ := os.Pipe()
		defer inR.Close()
		defer outR.Close()
		b.SetBytes(chunk)
		b.ResetTimer()
		ch := relayAsync(context.Background(), inR, outW, conn)
		for i := 0; i < b.N; i++ {
			if _, err := inW.Write(buf); err != nil {
				b.Fatal(err)
			}
		}
		inW.Close()
		if n := <-got; n != int64(b.N)*chunk {
			b.Fatalf("peer got %d bytes, want %d", n, int64(b.N)*chunk)
		}
		b.StopTimer()
		<-ch
	})
	b.Run("down", func(b *testing.B) {
		count := make(chan int, 1)
		conn := listen(b, func(c *net.TCPConn) {
			n := <-count
			for i := 0; i < n; i++ {
				if _, err := c.Write(buf); err != nil {
					return
				}
			}
		})
		count <- b.N
		inR, inW, _ := os.Pipe()
		outR, outW, _ := os.Pipe()
		defer inR.Close()
		defer inW.Close()
		b.SetBytes(chunk)
		b.ResetTimer()
		ch := relayAsync(context.Background(), inR, outW, conn)
		m, _ := io.Copy(io.Discard, outR)
		b.StopTimer()
		if m != int64(b.N)*chunk {
			b.Fatalf("got %d bytes, want %d", m, int64(b.N)*chunk)
		}
		<-ch
	})
}

// BenchmarkRelayTCP measures knock forward's case: a local TCP client
// through the relay to a TCP peer, both directions spliced.
func BenchmarkRelayTCP(b *testing.B) {
	const chunk = 1 << 20
	buf := make([]byte, chunk)
	remote := listen(b, func(c *net.TCPConn) { _, _ = io.Copy(io.Discard, c) })
	accepted := make(chan *net.TCPConn, 1)
	done := make(chan struct{})
	defer close(done)
	client := listen(b, func(c *net.TCPConn) {
		accepted <- c
		<-done // listen closes c when this returns
	})
	local := <-accepted
	b.SetBytes(chunk)
	b.ResetTimer()
	ch := relayAsync(context.Background(), local, local, remote)
	for i := 0; i < b.N; i++ {
		if _, err := client.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	_ = client.CloseWrite()
	r := <-ch
	b.StopTimer()
	if r.st.Up != int64(b.N)*chunk {
		b.Fatalf("relayed %d bytes, want %d (%v)", r.st.Up, int64(b.N)*chunk, r.err)
	}
	client.Close()
}
