//go:build unix

package safeio

import (
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestReadFileSpecial(t *testing.T) {
	if _, err := ReadFile("/dev/zero", ConfigLimit); !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), "device") {
		t.Errorf("/dev/zero: %v", err)
	}
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// Opening it would block until a writer comes.
	if _, err := ReadFile(fifo, ConfigLimit); !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), "FIFO") {
		t.Errorf("fifo: %v", err)
	}
}
