package main

import (
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestManPage(t *testing.T) {
	page, code := execRoot(t, "man")
	if code != exitOK {
		t.Fatalf("knock man: exit %d", code)
	}
	for _, want := range []string{`.TH "KNOCK" 1`, ".SH NAME", ".SH SYNOPSIS", ".SH DESCRIPTION", ".SH OPTIONS",
		".SH COMMANDS", ".SH EXAMPLES", ".SH EXIT STATUS", ".SH SEE ALSO", `\fB\-\-version\fR`, `\fB\-\-help\fR`} {
		if !strings.Contains(page, want) {
			t.Errorf("man page lacks %q", want)
		}
	}
	for _, code := range []int{exitOK, exitFailure, exitUsage, exitInterrupted} {
		if !strings.Contains(page, ".TP\n.B "+strconv.Itoa(code)+"\n") {
			t.Errorf("EXIT STATUS lacks %d", code)
		}
	}

	// Every visible command, at any depth, has its subsection; hidden
	// ones (knock man itself) have none.
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Name() == "help" {
				continue
			}
			heading := `.SS "` + strings.ReplaceAll(sub.CommandPath(), "-", `\-`) + "\"\n"
			if has := strings.Contains(page, heading); has != sub.IsAvailableCommand() {
				t.Errorf("%q: documented %v, visible %v", sub.CommandPath(), has, sub.IsAvailableCommand())
			}
			if sub.Example != "" && sub.IsAvailableCommand() && !strings.Contains(page, strings.ReplaceAll(firstLine(sub.Example), "-", `\-`)) {
				t.Errorf("%q: example %q missing", sub.CommandPath(), firstLine(sub.Example))
			}
			walk(sub)
		}
	}
	walk(newRootCmd())
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(l)
}
