// Package exit names knock's exit codes and marks errors with the code they
// end the process with. Internal packages mark bad input with [Usagef] or
// [Usage]; cmd/knock turns any error into its code with [Code], the one
// place that does so, and only main exits.
package exit

import (
	"context"
	"errors"
	"fmt"
)

// The exit codes, documented in docs/exit-codes.md and the man page.
const (
	OK          = 0   // sent (and verified, when asked)
	Failure     = 1   // network failure, or the port did not open
	UsageCode   = 2   // bad usage or bad input
	Interrupted = 130 // interrupted by the user
)

// ErrInterrupted is the cause of an error that a signal (Ctrl+C, SIGTERM)
// brought about.
var ErrInterrupted = errors.New("interrupted")

// usageError marks an error caused by the user's input.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// Usagef returns a bad-input error: exit code 2.
func Usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// Usage marks err, when not nil, as bad input: exit code 2.
func Usage(err error) error {
	if err == nil {
		return nil
	}
	return usageError{err}
}

// IsUsage reports whether err is marked as bad input.
func IsUsage(err error) bool {
	var ue usageError
	return errors.As(err, &ue)
}

// StripUsage returns the error a usage mark wraps, for callers that add
// context and mark the result again.
func StripUsage(err error) error {
	var ue usageError
	if errors.As(err, &ue) {
		return ue.err
	}
	return err
}

// codeError carries an explicit exit code, such as a child's.
type codeError struct {
	code int
	err  error
}

func (e codeError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e codeError) Unwrap() error { return e.err }

// WithCode returns an error that ends the process with code. When err is
// nil nothing is printed: the code is the whole message (a child's exit
// status, a doctor that found problems).
func WithCode(code int, err error) error { return codeError{code, err} }

// Silent reports whether err carries a code and nothing to print.
func Silent(err error) bool {
	var ce codeError
	return errors.As(err, &ce) && ce.err == nil
}

// Code maps an error to the process exit code: nil is 0; an explicit
// code wins; then an interruption (130), bad input (2), anything else (1).
func Code(err error) int {
	var ce codeError
	switch {
	case err == nil:
		return OK
	case errors.As(err, &ce):
		return ce.code
	case errors.Is(err, context.Canceled), errors.Is(err, ErrInterrupted):
		return Interrupted
	case IsUsage(err):
		return UsageCode
	}
	return Failure
}
