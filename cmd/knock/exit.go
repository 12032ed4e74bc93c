package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Exit codes, documented in README.md and the man page.
const (
	exitOK          = 0   // sent (and verified, when asked)
	exitFailure     = 1   // network failure, or the port did not open
	exitUsage       = 2   // bad usage or bad input
	exitInterrupted = 130 // interrupted by the user
)

// usageError marks an error caused by the user's input: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns a usage error, exit code 2.
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// asUsage marks err, when not nil, as a usage error.
func asUsage(err error) error {
	if err == nil {
		return nil
	}
	return usageError{err}
}

// exitError carries an explicit exit code, for example that of ssh.
type exitError struct {
	code int
	err  error // may be nil: nothing to print
}

func (e exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e exitError) Unwrap() error { return e.err }

// exitCode maps an error returned by a command to the process exit code.
// It is the one place that does so.
func exitCode(err error) int {
	var ee exitError
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, context.Canceled), errors.Is(err, errInterrupted):
		return exitInterrupted
	case errors.As(err, &ue):
		return exitUsage
	}
	return exitFailure
}

var errInterrupted = errors.New("interrupted")

// printError writes err as the single line "knock: error: ...".
func printError(w io.Writer, err error) {
	var ee exitError
	if errors.As(err, &ee) && ee.err == nil {
		return
	}
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	fmt.Fprintf(w, "knock: error: %s\n", msg)
}

// warnf prints a one-line warning on stderr.
func warnf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "knock: warning: "+format+"\n", args...)
}

// hintf prints a one-line hint on stderr.
func hintf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "knock: hint: "+format+"\n", args...)
}

// noticef prints a one-line notice on stderr.
func noticef(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "knock: "+format+"\n", args...)
}
