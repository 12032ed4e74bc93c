// Package safeio reads the files knock is given (configuration, key files,
// profile stores) with a size limit, and only when they are regular files:
// /dev/zero, a FIFO or a directory named as a config file is one clear
// error, never an endless read, a hang or an out-of-memory crash.
package safeio

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits fitting each kind of file knock reads.
const (
	ConfigLimit = 4 << 20  // knockd.conf, ssh_config, .fwknoprc, a one_time_sequences file
	SecretLimit = 64 << 10 // key files
	StoreLimit  = 64 << 20 // the profile store, an export to import
)

// ErrNotRegular is wrapped by errors for paths that are not regular files.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is wrapped by errors for files over their limit.
var ErrTooLarge = errors.New("file too large")

// ReadFile reads the regular file at path, refusing anything else and any
// file larger than limit bytes. Errors name the path. A missing file
// wraps [fs.ErrNotExist].
func ReadFile(path string, limit int64) ([]byte, error) {
	// Stat before opening: opening a FIFO for reading blocks until a
	// writer comes.
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := check(path, st, limit); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// The file may have been replaced between Stat and Open.
	if st, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := check(path, st, limit); err != nil {
		return nil, err
	}
	return ReadAll(f, path, limit)
}

// ReadAll reads r to its end, failing with [ErrTooLarge] beyond limit
// bytes; name is the path or "standard input" for the error.
func ReadAll(r io.Reader, name string, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: %w (over %s)", name, ErrTooLarge, Size(limit))
	}
	return b, nil
}

// Check refuses what [ReadFile] refuses, for files read or written in
// place by other means (knockd's one_time_sequences file).
func Check(path string, limit int64) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	return check(path, st, limit)
}

func check(path string, st fs.FileInfo, limit int64) error {
	if !st.Mode().IsRegular() {
		what := "a special file"
		switch {
		case st.IsDir():
			what = "a directory"
		case st.Mode()&fs.ModeNamedPipe != 0:
			what = "a FIFO"
		case st.Mode()&fs.ModeDevice != 0:
			what = "a device"
		}
		return fmt.Errorf("%s: %w (it is %s)", path, ErrNotRegular, what)
	}
	if st.Size() > limit {
		return fmt.Errorf("%s: %w (%s, over %s)", path, ErrTooLarge, Size(st.Size()), Size(limit))
	}
	return nil
}

// Size formats a byte count for messages: "4 MiB", "512 KiB", "17 bytes".
func Size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// ReadInput reads path with [ReadFile], or stdin when path is "-".
func ReadInput(path string, stdin io.Reader, limit int64) ([]byte, error) {
	if path == "-" {
		return ReadAll(stdin, "standard input", limit)
	}
	return ReadFile(path, limit)
}

// Escape makes s safe to print on a terminal: every character that is
// not printable (ESC and the other control characters, invalid UTF-8) is
// written as a Go escape (\x1b, \u200b), as %q would, so that a file or
// a user cannot move the cursor, retitle the window or hide text. Spaces
// and tabs stay.
func Escape(s string) string {
	clean := true
	for _, r := range s {
		if !printable(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case printable(r):
			b.WriteString(s[i : i+n])
		default:
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
		i += n
	}
	return b.String()
}

func printable(r rune) bool {
	return r == ' ' || r == '\t' || (r != utf8.RuneError && unicode.IsPrint(r))
}
