package profiles

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestImportSeedKnockdConf(t *testing.T) {
	data, err := os.ReadFile("testdata/knockd-seed.conf")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Import("knockd-seed.conf", data, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Format != "knockd.conf" || len(res.Profiles) != 1 {
		t.Fatalf("format %q, %d profiles; want knockd.conf, 1", res.Format, len(res.Profiles))
	}
	p := res.Profiles[0]
	want := Profile{Name: "ssh", Open: "7000:tcp,8000:tcp,9000:tcp", Close: "9000:tcp,8000:tcp,7000:tcp",
		TCPFlags: "syn", SeqTimeout: 5, WaitPort: 22}
	if p.Name != want.Name || p.Open != want.Open || p.Close != want.Close || p.TCPFlags != want.TCPFlags ||
		p.SeqTimeout != want.SeqTimeout || p.WaitPort != want.WaitPort || p.Host != "" {
		t.Fatalf("got %+v\nwant %+v", p, want)
	}
	if !strings.Contains(p.Notes, "[openSSH]") || !strings.Contains(p.Notes, "[closeSSH]") {
		t.Errorf("notes %q do not name the doors", p.Notes)
	}
	res, err = Import("knockd-seed.conf", data, ImportOptions{Host: "198.51.100.2"})
	if err != nil || res.Profiles[0].Host != "198.51.100.2" {
		t.Fatalf("--host: %v %+v", err, res)
	}
}

func TestImportDoors(t *testing.T) {
	conf := `[options]
  logfile = /var/log/knockd.log
[openHTTP]
  sequence = 1111,2222:udp
[closeHTTP]
  sequence = 2222:udp,1111
  tcpflags = fin
[Web Door]
  sequence = 3333
[closeOnly]
  sequence = 4444
[otp]
  one_time_sequences = /etc/knockd/otp
`
	res, err := Import("k.conf", []byte(conf), ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*Profile{}
	for _, p := range res.Profiles {
		got[p.Name] = p
	}
	if p := got["http"]; p == nil || p.Close != "2222:udp,1111:tcp" || p.Open != "1111:tcp,2222:udp" {
		t.Errorf("http: %+v", p)
	}
	if got["web-door"] == nil || got["closeonly"] == nil || len(got) != 3 {
		t.Errorf("profiles %v", got)
	}
	if len(res.Warnings) != 2 { // tcpflags differ, one_time_sequences skipped
		t.Errorf("warnings %q", res.Warnings)
	}
}

func TestImportUnknownAndBroken(t *testing.T) {
	if _, err := Import("x", []byte("hello\n"), ImportOptions{}); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("unknown format: %v", err)
	}
	_, err := Import("bad.conf", []byte("[door]\n sequence = 70000\n"), ImportOptions{})
	if err == nil || !strings.Contains(err.Error(), "bad.conf:2") {
		t.Errorf("broken knockd.conf: %v (want file:line)", err)
	}
	if _, err := Import("x", []byte("[d]\nsequence=1\n"), ImportOptions{Host: "bad host"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad --host: %v", err)
	}
}

func TestImportExportRoundTrip(t *testing.T) {
	ps := []*Profile{{Name: "a", Open: "1:tcp"}, {Name: "b", Kind: KindSPA, SPA: &SPAConfig{KeyBase64: "a2V5", Access: []string{"tcp/22"}}}}
	b, err := EncodeList(ps)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Import("export.json", b, ImportOptions{})
	if err != nil || res.Format != "knock export" || len(res.Profiles) != 2 || res.Profiles[1].SPA.Access[0] != "tcp/22" {
		t.Fatalf("%v %+v", err, res)
	}
}
