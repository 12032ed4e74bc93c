package prompt

import (
	"os"
	"strings"
	"testing"

	"github.com/a-knock/knock/internal/exit"
)

// Without a terminal, each secret is one line of stdin; a missing one is
// bad input naming what was asked.
func TestLinesFromStdin(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "stdin")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("  7000,8000,9000 \n9000,8000,7000")
	f.Seek(0, 0)
	old := os.Stdin
	os.Stdin = f
	defer func() { os.Stdin = old }()
	var r Reader
	for _, want := range []string{"7000,8000,9000", "9000,8000,7000"} {
		if got, err := r.Line("sequence"); err != nil || got != want {
			t.Fatalf("Line = %q %v, want %q", got, err, want)
		}
	}
	_, err = r.Line("close sequence")
	if exit.Code(err) != exit.UsageCode || !strings.Contains(err.Error(), "close sequence") {
		t.Fatalf("after the last line: %v", err)
	}
}
