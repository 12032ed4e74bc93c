//go:build !unix

package main

import "github.com/rogpeppe/go-internal/testscript"

// addOSCmds adds nothing: the unix-only commands run in [unix] lines.
func addOSCmds(map[string]func(ts *testscript.TestScript, neg bool, args []string)) {}
