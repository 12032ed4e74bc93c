package main

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/a-knock/knock/internal/manpage"
)

// newManCmd is the hidden `knock man`: it prints knock(1) in roff, built
// from the command tree, for packaging (knock man | gzip -9n > knock.1.gz).
// With --json it prints the same tree as data, from which
// scripts/gendocs writes the reference blocks of docs/.
func newManCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:    "man",
		Short:  "Print the knock(1) man page in roff",
		Hidden: true,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("man takes no arguments (got %q)", args[0])
			}
			return nil
		},
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// cobra adds --help and --version to a command only when it
			// runs; the page documents them for the root.
			root := cmd.Root()
			root.InitDefaultHelpFlag()
			root.InitDefaultVersionFlag()
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]any{"commands": reference(root), "page": manPage()})
			}
			return manpage.Write(cmd.OutOrStdout(), reference(root), manPage())
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the command tree and the page as JSON (for docs/)")
	return c
}

// reference reads root's tree as plain data for the man page and the
// docs: every available command (not help), depth first in cobra's
// sorted order, with its own flags but --help.
func reference(root *cobra.Command) []manpage.Command {
	c := manpage.Command{Path: root.CommandPath(), Short: root.Short, Long: root.Long, Example: root.Example}
	if root.Runnable() {
		// A Use line may offer alternatives: "knock [flags] A | knock [flags] B".
		for _, alt := range strings.Split(root.Use, " | ") {
			_, args, _ := strings.Cut(alt, " ")
			if root.HasAvailableFlags() && !root.DisableFlagsInUseLine && !strings.Contains(args, "[flags]") {
				args = strings.TrimSpace("[flags] " + args)
			}
			c.Uses = append(c.Uses, args)
		}
	}
	fs := pflag.NewFlagSet(root.Name(), pflag.ContinueOnError)
	root.NonInheritedFlags().VisitAll(func(f *pflag.Flag) {
		if f.Name != "help" || !root.HasParent() {
			fs.AddFlag(f)
		}
	})
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		v, usage := pflag.UnquoteUsage(f)
		fl := manpage.Flag{Name: f.Name, Var: v, Usage: usage, Deprecated: f.Deprecated}
		if f.ShorthandDeprecated == "" {
			fl.Shorthand = f.Shorthand
		}
		switch f.DefValue {
		case "", "0", "false", "[]", "<nil>", "0s":
		default:
			fl.Default = f.DefValue
			if f.Value.Type() == "string" {
				fl.Default = strconv.Quote(f.DefValue)
			}
		}
		c.Flags = append(c.Flags, fl)
	})
	out := []manpage.Command{c}
	for _, sub := range root.Commands() {
		if sub.IsAvailableCommand() && sub.Name() != "help" {
			out = append(out, reference(sub)...)
		}
	}
	return out
}

// manPage is what the man page says beyond the command tree.
func manPage() manpage.Page {
	v, d := manVersionDate()
	return manpage.Page{
		Section: "1",
		Date:    d,
		Source:  "knock " + v,
		Manual:  "User Commands",
		ExitStatus: []manpage.Exit{
			{Code: exitOK, Meaning: "Sent; with --wait (or a profile's wait port) the guarded port was verified open."},
			{Code: exitFailure, Meaning: "Network failure, or the guarded port did not open."},
			{Code: exitUsage, Meaning: "Bad usage or bad input; the message names the offending value or config line."},
			{Code: exitInterrupted, Meaning: "Interrupted (Ctrl+C), or the picker was left without a choice."},
		},
		ExitNote: "knock ssh and knock run exit with the exit code of the program they ran. Errors are one line on standard error: knock: error: ...",
		SeeAlso:  []string{"knockd(1)", "fwknop(8)", "ssh(1)", "ssh_config(5)"},
	}
}

// manVersionDate returns the version and the date for the page footer:
// the build's day, else SOURCE_DATE_EPOCH's (reproducible builds), else
// none, so that the page does not change from one run to the next.
func manVersionDate() (v, d string) {
	v, _, d = buildInfo()
	if e, err := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64); d == "unknown" && err == nil {
		d = time.Unix(e, 0).UTC().Format(time.DateOnly)
	}
	if d == "unknown" {
		d = ""
	}
	return v, d[:min(len(d), len(time.DateOnly))] // an RFC 3339 build time: keep the day
}
