package profiles

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzSSHConfig: no ssh_config content makes loading or a lookup panic.
func FuzzProfileSSHConfig(f *testing.F) {
	f.Add([]byte("Host a\n  HostName 198.51.100.2\n  Port 2222\n  AddressFamily inet6\n"))
	f.Add([]byte("Host *\n  User x\nHost a b !c\n  HostName %h.example\n"))
	f.Add([]byte("Match host a\n  Port 1\n"))
	f.Add([]byte("Host a\n  HostName\n"))
	f.Add([]byte("Include /nonexistent/*\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "config")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := LoadSSHConfig(p, true)
		if err != nil {
			return
		}
		_, _ = c.Lookup("a")
		_ = c.HostNames()
	})
}

// FuzzImport: format detection and the importers never panic, and what
// they return is valid.
func FuzzProfileImport(f *testing.F) {
	seed, _ := os.ReadFile("testdata/knockd-seed.conf")
	f.Add(seed)
	f.Add([]byte("[openX]\nsequence=1,2\n[closeX]\nsequence=2,1\n"))
	f.Add([]byte(`{"format":"knock-profiles","v":1,"profiles":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := Import("fuzz", b, ImportOptions{})
		if err != nil {
			return
		}
		for _, p := range res.Profiles {
			if err := p.Validate(); err != nil {
				t.Fatalf("import returned an invalid profile: %v", err)
			}
		}
	})
}
