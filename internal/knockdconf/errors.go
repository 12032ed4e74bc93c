package knockdconf

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrSyntax matches (errors.Is) every problem that knockd itself would refuse
// to start with (unknown key, bad value, line outside a section ...).
var ErrSyntax = errors.New("invalid knockd.conf")

// Error is one problem in a configuration file, located by file, line and,
// when the problem belongs to a key, the key as written in the file.
type Error struct {
	File string
	Line int    // 1-based; 0 when the problem concerns the whole file
	Key  string // the key as written, or "" for section-level problems
	Err  error
}

// Error formats the problem as "file:line: key: message".
func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc += ":" + strconv.Itoa(e.Line)
	}
	if e.Key != "" {
		return fmt.Sprintf("%s: %s: %v", loc, e.Key, e.Err)
	}
	return fmt.Sprintf("%s: %v", loc, e.Err)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Is makes every Error match [ErrSyntax].
func (e *Error) Is(target error) bool { return target == ErrSyntax }

// Errors is every problem found in one file, in line order. [Parse]
// returns it (as an error) when the file has at least one problem.
type Errors []*Error

// Error returns the first problem on one line and counts the others, so
// that a command can print it as a single line; callers that list every
// problem (knock doctor) range over the slice.
func (l Errors) Error() string {
	switch len(l) {
	case 0:
		return "no problems"
	case 1:
		return l[0].Error()
	case 2:
		return l[0].Error() + " (and 1 more problem)"
	}
	return fmt.Sprintf("%s (and %d more problems)", l[0].Error(), len(l)-1)
}

// Unwrap returns the problems, for errors.Is and errors.As.
func (l Errors) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// problem builds a located error wrapping ErrSyntax.
func problem(file string, line int, key string, format string, args ...any) *Error {
	return &Error{File: file, Line: line, Key: key, Err: fmt.Errorf(format, args...)}
}
