package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

func TestVersionString(t *testing.T) {
	defer func(v, c, d string) { version, commit, date = v, c, d }(version, commit, date)

	version, commit, date = "1.2.3", "0123456789abcdef0123", "2026-01-02T03:04:05Z"
	if got, want := versionString(), "knock 1.2.3 (commit 0123456789ab, built 2026-01-02T03:04:05Z)"; got != want {
		t.Errorf("with -X: %q, want %q", got, want)
	}
	// Without -X, the build information fills in what it knows; a test
	// binary is "(devel)", shown as devel.
	version, commit, date = "", "", ""
	if got := versionString(); !regexp.MustCompile(`^knock \S+ \(commit \S+, built \S+\)$`).MatchString(got) {
		t.Errorf("without -X: %q", got)
	}
}

// TestVersionLdflags builds knock as the release does and checks that
// the -X names match the variables.
func TestVersionLdflags(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "knock")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	c := exec.Command("go", "build", "-trimpath", "-o", bin,
		"-ldflags", "-X main.version=9.8.7 -X main.commit=fedcba9876543210 -X main.date=2026-03-04T05:06:07Z", ".")
	c.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(string(out)), "knock 9.8.7 (commit fedcba987654, built 2026-03-04T05:06:07Z)"; got != want {
		t.Errorf("knock --version = %q, want %q", got, want)
	}
}
