package door

import (
	"fmt"
	"os"
	"testing"
)

// TestMain points the default history (internal/history) at a directory
// of the test's own: a test that gives no Options.History must not learn
// into the user's.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "knock-door-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("XDG_STATE_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
