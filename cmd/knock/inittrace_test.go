package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestQuiettermInitFirst checks, on every OS, that internal/quietterm's
// init runs before bubbletea's: bubbletea's init asks the terminal for
// its background colour unless quietterm has answered first (see
// TestNoTerminalQuery for the hang that follows otherwise). Go runs
// package inits in import-path order once their imports are ready, so this
// holds only while the module path sorts before github.com/charmbracelet.
// The binary prints its init order with GODEBUG=inittrace=1.
func TestQuiettermInitFirst(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds the knock binary")
	}
	bin := filepath.Join(t.TempDir(), "knock")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v: %s", err, out)
	}
	c := exec.Command(bin, "--version")
	c.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("knock --version: %v: %s", err, out)
	}
	at := map[string]int{}
	for i, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "init" {
			if _, seen := at[f[1]]; !seen {
				at[f[1]] = i
			}
		}
	}
	q, okq := at["github.com/a-knock/knock/internal/quietterm"]
	b, okb := at["github.com/charmbracelet/bubbletea"]
	if !okq || !okb {
		t.Fatalf("inittrace lacks quietterm (%v) or bubbletea (%v):\n%s", okq, okb, out)
	}
	if q > b {
		t.Fatalf("quietterm's init runs after bubbletea's (lines %d and %d of the trace): bubbletea will query the terminal at start-up", q, b)
	}
}
