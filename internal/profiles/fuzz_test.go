package profiles

import (
	"os"
	"testing"
)

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
