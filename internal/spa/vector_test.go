package spa

import (
	"context"
	"encoding/hex"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"
)

// The deterministic vector of fwknop-spa.md section 6 (Debian fwknop --test -v).
const (
	vecKey     = "wzNP62oPPgEc+kXDPQLHPOayQBuNbYUTPP+QrErNDmg="
	vecHMACKey = "Yh+xizBnl6FotC5ec7FanVGClRMlsOAPh2u6eovnerfBVKwaVKzjGoblFMHMc593TNyi0dWn4opLoTIV9q/ttg=="
	vecFields  = "8038796071394366:cm9vdA:1795635694:3.0.0:1:MTI3LjAuMC4xLHRjcC8yMg"
	vecDigest  = "QkGD7WJ7jepGYjmZe47LgTVC6WITpoPpTh++Sr7y3Yg"
	vecSalt    = "5bf514e5530e4025"
	vecAESKey  = "4ec19d2df340401725ba8f09212d0b07b3eb8430bb6000c3d8f21f8a3117ec00"
	vecIV      = "d4de06ab521d64ec8adc0c1aac6dc243"
	vecHMAC    = "vZjv1zkFQ89GFCwqSnsKW76IrRWb+VgAOTxFFyLgwVs"
	vecWire    = "9b9RTlUw5AJXLr3T+h26LeXCAttFBcezffOvAQyV2AeTlI3mKZ0LvvvWN9OXQYE7UarxSIJNGLY6470u3ehJPgKr0Njum5d37dkFojACvFqBo9F5DOmpjSegVCbUTTiYLfMhwNQDcHNBcTXsDxp+0s8Y89XiK6z78vZjv1zkFQ89GFCwqSnsKW76IrRWb+VgAOTxFFyLgwVs"
)

func vectorRequest() Request {
	return Request{
		User:    "root",
		AllowIP: netip.MustParseAddr("127.0.0.1"),
		Access:  []Access{{Proto: "tcp", Port: 22}},
	}
}

func vectorEncoder(t *testing.T) *Encoder {
	t.Helper()
	salt, err := hex.DecodeString(vecSalt)
	if err != nil {
		t.Fatal(err)
	}
	return &Encoder{
		Now:       func() time.Time { return time.Unix(1795635694, 0) },
		fixedRand: "8038796071394366",
		fixedSalt: salt,
	}
}

func TestSPAVectorSteps(t *testing.T) {
	keys, err := ParseKeys(vecKey, vecHMACKey)
	if err != nil {
		t.Fatal(err)
	}
	if got := fields(vectorRequest(), "8038796071394366", 1795635694); got != vecFields {
		t.Errorf("fields:\n got %s\nwant %s", got, vecFields)
	}
	if got := plaintext(vectorRequest(), "8038796071394366", 1795635694); got != vecFields+":"+vecDigest {
		t.Errorf("digest:\n got %s\nwant %s", got, vecFields+":"+vecDigest)
	}
	salt, _ := hex.DecodeString(vecSalt)
	key, iv := deriveKeyIV(keys.Enc, salt)
	if hex.EncodeToString(key) != vecAESKey || hex.EncodeToString(iv) != vecIV {
		t.Errorf("EVP_BytesToKey:\n got key %x iv %x\nwant key %s iv %s", key, iv, vecAESKey, vecIV)
	}
}

func TestSPAVectorWire(t *testing.T) {
	keys, err := ParseKeys(vecKey, vecHMACKey)
	if err != nil {
		t.Fatal(err)
	}
	wire, err := vectorEncoder(t).Encode(vectorRequest(), keys)
	if err != nil {
		t.Fatal(err)
	}
	if wire != vecWire {
		t.Fatalf("wire:\n got %s\nwant %s", wire, vecWire)
	}
	if len(wire) != 204 {
		t.Errorf("wire is %d characters, want 204", len(wire))
	}
	if wire[len(wire)-43:] != vecHMAC {
		t.Errorf("hmac: got %s want %s", wire[len(wire)-43:], vecHMAC)
	}
}

func TestSPAFreshPackets(t *testing.T) {
	keys, err := ParseKeys(vecKey, vecHMACKey)
	if err != nil {
		t.Fatal(err)
	}
	var e Encoder
	seen := map[string]bool{}
	for i := 0; i < 20; i++ {
		w, err := e.Encode(vectorRequest(), keys)
		if err != nil {
			t.Fatal(err)
		}
		if seen[w] {
			t.Fatal("two sends produced the same packet: fwknopd would refuse the second as a replay")
		}
		seen[w] = true
		if len(w) < MinWireLen || len(w) >= GPGWireLen {
			t.Errorf("wire length %d outside %d..%d", len(w), MinWireLen, GPGWireLen-1)
		}
	}
}

func TestSPASendUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	dst := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	if err := Send(context.Background(), dst, UDP, vecWire); err != nil {
		t.Fatal(err)
	}
	_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2048)
	n, _, err := pc.ReadFrom(buf)
	if err != nil || string(buf[:n]) != vecWire {
		t.Fatalf("received %q, %v", buf[:n], err)
	}
}

func TestSPASendTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
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
	if err := Send(context.Background(), ln.Addr().(*net.TCPAddr).AddrPort(), TCP, vecWire); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != vecWire {
		t.Fatalf("received %q", s)
	}
}
