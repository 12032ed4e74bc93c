//go:build unix

package main

import (
	"syscall"

	"github.com/rogpeppe/go-internal/testscript"
)

// addOSCmds adds the script commands that only unix has.
func addOSCmds(cmds map[string]func(ts *testscript.TestScript, neg bool, args []string)) {
	// mkfifo FILE makes a named pipe.
	cmds["mkfifo"] = func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 1 {
			ts.Fatalf("usage: mkfifo FILE")
		}
		ts.Check(syscall.Mkfifo(ts.MkAbs(args[0]), 0o600))
	}
}
