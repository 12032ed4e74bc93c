package safeio

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small")
	os.WriteFile(small, []byte("hello"), 0o600)
	if b, err := ReadFile(small, 5); err != nil || string(b) != "hello" {
		t.Fatalf("small: %q %v", b, err)
	}
	if _, err := ReadFile(small, 4); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), small) {
		t.Errorf("over limit: %v", err)
	}
	if _, err := ReadFile(dir, 1<<20); !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), "directory") {
		t.Errorf("directory: %v", err)
	}
	if _, err := ReadFile(filepath.Join(dir, "missing"), 10); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
}

func TestReadAll(t *testing.T) {
	if _, err := ReadAll(strings.NewReader("abcdef"), "standard input", 5); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "standard input") {
		t.Errorf("ReadAll: %v", err)
	}
	if b, err := ReadAll(strings.NewReader("abcde"), "x", 5); err != nil || string(b) != "abcde" {
		t.Errorf("ReadAll: %q %v", b, err)
	}
}

func TestSize(t *testing.T) {
	for n, want := range map[int64]string{4 << 20: "4 MiB", 64 << 10: "64 KiB", 17: "17 bytes", 1500: "1500 bytes"} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"plain text, tabs\tand ünïcödé": "plain text, tabs\tand ünïcödé",
		"\x1b]0;owned\a":                `\x1b]0;owned\a`,
		"a\x00b\x7fc":                   `a\x00b\x7fc`,
		"bad \xff utf8":                 `bad \xff utf8`,
		"zero\u200bwidth":               `zero\u200bwidth`,
		"line\nbreak":                   `line\nbreak`,
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzEscape(f *testing.F) {
	f.Add("\x1b[31mred\x1b[0m")
	f.Add("\xff\xfe")
	f.Fuzz(func(t *testing.T, s string) {
		out := Escape(s)
		for _, r := range out {
			if !printable(r) {
				t.Fatalf("Escape(%q) = %q keeps %q", s, out, r)
			}
		}
	})
}
