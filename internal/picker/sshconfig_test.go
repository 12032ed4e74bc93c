package picker

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestScanSSHConfig(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	dir := filepath.Join(home, ".ssh")
	os.MkdirAll(filepath.Join(dir, "conf.d"), 0o700)
	os.WriteFile(filepath.Join(dir, "conf.d", "lab"), []byte("Host lab1 lab2\n  HostName 198.51.100.%h\n"), 0o600)
	cfg := `# comment
Host web web-alias
  HostName 198.51.100.2
  Port 2222
Host *.internal !bad
  User ops
Host db
  HostName=db.example.org
Hostt
Include conf.d/*
Match host x
  HostName ignored
Host web
  HostName later.example
`
	p := filepath.Join(dir, "config")
	os.WriteFile(p, []byte(cfg), 0o600)
	es, errs := ScanSSHConfig(p)
	var got []string
	for _, e := range es {
		got = append(got, e.Name+"="+e.Host)
	}
	want := "web=198.51.100.2 web-alias=198.51.100.2 db=db.example.org lab1=198.51.100.lab1 lab2=198.51.100.lab2"
	if strings.Join(got, " ") != want {
		t.Errorf("hosts %q, want %q", strings.Join(got, " "), want)
	}
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "line 9") || !strings.Contains(errs[0].Error(), `"Hostt"`) {
		t.Errorf("errors %v, want one naming line 9", errs)
	}
	if es, errs := ScanSSHConfig(filepath.Join(dir, "missing")); len(es) != 0 || len(errs) != 0 {
		t.Errorf("missing file: %v %v", es, errs)
	}
}

func FuzzScanSSHConfig(f *testing.F) {
	f.Add("Host a b\n HostName x\nInclude nothing\n")
	f.Add("Host=*\nMatch all\n\tHostName %h.example\n")
	f.Fuzz(func(t *testing.T, cfg string) {
		p := filepath.Join(t.TempDir(), "config")
		os.WriteFile(p, []byte(cfg), 0o600)
		es, _ := ScanSSHConfig(p)
		for _, e := range es {
			if e.Name == "" || strings.ContainsAny(e.Name, "*?!") {
				t.Fatalf("bad entry %+v", e)
			}
		}
	})
}
