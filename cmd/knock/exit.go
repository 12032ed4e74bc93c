package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/a-knock/knock/internal/exit"
	"github.com/a-knock/knock/internal/safeio"
)

// Exit codes, documented in the man page and docs/exit-codes.md (both
// made from manPage); internal/exit maps errors to them (exit.Code), the
// one place that does so.
const (
	exitOK          = exit.OK
	exitFailure     = exit.Failure
	exitUsage       = exit.UsageCode
	exitInterrupted = exit.Interrupted
)

// usagef returns a bad-usage error, exit code 2.
func usagef(format string, args ...any) error { return exit.Usagef(format, args...) }

// asUsage marks err, when not nil, as bad usage.
func asUsage(err error) error { return exit.Usage(err) }

// printError writes err as the single line "knock: error: ...".
func printError(w io.Writer, err error) {
	if exit.Silent(err) {
		return
	}
	fmt.Fprintf(w, "knock: error: %s\n", oneLine(err.Error()))
}

// oneLine joins the lines of a message and escapes what a terminal would
// interpret: messages quote files and users.
func oneLine(s string) string { return safeio.Escape(strings.ReplaceAll(s, "\n", " ")) }

// warnf prints a one-line warning on stderr.
func warnf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "knock: warning: %s\n", oneLine(fmt.Sprintf(format, args...)))
}

// hintf prints a one-line hint on stderr.
func hintf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "knock: hint: %s\n", oneLine(fmt.Sprintf(format, args...)))
}

// noticef prints a one-line notice on stderr.
func noticef(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "knock: %s\n", oneLine(fmt.Sprintf(format, args...)))
}
