//go:build linux

package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/a-knock/knock/internal/lab"
)

// TestManPageGroff renders knock(1) with groff, warnings on: the roff
// must be clean, not just readable.
func TestManPageGroff(t *testing.T) {
	lab.Require(t, "groff")
	page, code := execRoot(t, "man")
	if code != exitOK {
		t.Fatalf("knock man: exit %d", code)
	}
	c := exec.Command("groff", "-man", "-Tutf8", "-ww", "-z")
	c.Stdin = strings.NewReader(page)
	var stderr bytes.Buffer
	c.Stderr = &stderr
	if err := c.Run(); err != nil || stderr.Len() > 0 {
		t.Errorf("groff: %v\n%s", err, stderr.String())
	}
}
