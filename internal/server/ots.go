package server

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/a-knock/knock/internal/safeio"
	"github.com/a-knock/knock/internal/seq"
)

// errExhausted reports a one-time sequences file without a valid line.
var errExhausted = errors.New("no valid sequence left")

// otsFile is a door's one_time_sequences file, with knockd's semantics:
// one sequence per line, lines whose first non-blank character is "#"
// are used up or comments, lines that do not parse are skipped. The first
// valid line is the door's only sequence, shared by all clients; once it
// has been knocked, the first byte of its line is overwritten with "#"
// in place and the next valid line takes its place.
type otsFile struct {
	path string
}

// next returns the first valid sequence in the file.
func (o *otsFile) next() (seq.Sequence, error) {
	if err := safeio.Check(o.path, safeio.ConfigLimit); err != nil {
		return nil, err
	}
	f, err := os.Open(o.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s, _, err := findValid(f, nil)
	return s, err
}

// findValid returns the first valid sequence of r (equal to want, when
// want is not nil) and the offset of the start of its line.
func findValid(r io.Reader, want seq.Sequence) (seq.Sequence, int64, error) {
	br := bufio.NewReader(r)
	var off int64
	for {
		line, err := br.ReadBytes('\n')
		start := off
		off += int64(len(line))
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' && len(line) < 4096 {
			if s, perr := seq.Parse(seq.TCP, string(t)); perr == nil && (want == nil || equal(s, want)) {
				return s, start, nil
			}
		}
		if err == io.EOF {
			return nil, 0, errExhausted
		}
		if err != nil {
			return nil, 0, err
		}
	}
}

func equal(a, b seq.Sequence) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// use marks the line of the used sequence cur (the first valid line equal
// to it, found afresh as knockd does, in case the file was edited) by
// writing "#" over its first byte, and returns the next valid sequence,
// or errExhausted.
func (o *otsFile) use(cur seq.Sequence) (seq.Sequence, error) {
	f, err := os.OpenFile(o.path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, off, err := findValid(f, cur); err == nil {
		if _, err := f.WriteAt([]byte{'#'}, off); err != nil {
			return nil, fmt.Errorf("mark used sequence: %w", err)
		}
		if err := f.Sync(); err != nil {
			return nil, fmt.Errorf("mark used sequence: %w", err)
		}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	s, _, err := findValid(f, nil)
	return s, err
}
