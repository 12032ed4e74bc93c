package picker

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The first frame's source: ssh_config hosts through the one reader,
// its broken lines as warnings, no keyring.
func TestFastSource(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("XDG_STATE_HOME", filepath.Join(home, ".state"))
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	os.MkdirAll(filepath.Join(home, ".ssh", "conf.d"), 0o700)
	os.WriteFile(filepath.Join(home, ".ssh", "conf.d", "lab"), []byte("Host lab1\n  HostName 198.51.100.%h\n"), 0o600)
	cfg := filepath.Join(home, ".ssh", "config")
	os.WriteFile(cfg, []byte("Host web web-alias\n  HostName 198.51.100.2\nHostt\nInclude conf.d/*\nHost *.internal\n  User ops\n"), 0o600)
	es, errs := FastSource(cfg, true)()
	var got []string
	for _, e := range es {
		got = append(got, e.Name+"="+e.Host)
	}
	if want := "web=198.51.100.2 web-alias=198.51.100.2 lab1=198.51.100.lab1"; strings.Join(got, " ") != want {
		t.Errorf("hosts %q, want %q", strings.Join(got, " "), want)
	}
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), cfg+":3:") {
		t.Errorf("warnings %v, want one naming line 3", errs)
	}
	if es, errs := FastSource(filepath.Join(home, "missing"), false)(); len(es) != 0 || len(errs) != 0 {
		t.Errorf("missing file: %v %v", es, errs)
	}
}
