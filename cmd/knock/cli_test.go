package main

// Helpers for the Go tests that run a built knock binary as a user would
// (more in cli_linux_test.go, for the lab tests). CLI behaviour that needs
// neither root nor a real binary is in testdata/*.txtar (see
// script_test.go).

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	testBinOnce sync.Once
	testBin     string
	testBinErr  error
)

// knockBin builds the command once for tests that run it as a user would.
func knockBin(t *testing.T) string {
	t.Helper()
	testBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "knock-test-")
		if err != nil {
			testBinErr = err
			return
		}
		testBin = filepath.Join(dir, "knock")
		if runtime.GOOS == "windows" {
			testBin += ".exe"
		}
		c := exec.Command("go", "build", "-o", testBin, ".")
		c.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := c.CombinedOutput(); err != nil {
			testBinErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	if testBinErr != nil {
		t.Fatal(testBinErr)
	}
	return testBin
}

// runKnockBinIn runs the knock binary with extra environment and stdin,
// bounded to a minute, and returns its output and exit code.
func runKnockBinIn(t *testing.T, env []string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, knockBin(t), args...)
	c.Env = append(os.Environ(), env...)
	c.Stdin = strings.NewReader(stdin)
	var so, se bytes.Buffer
	c.Stdout, c.Stderr = &so, &se
	err := c.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return so.String(), se.String(), code
}
