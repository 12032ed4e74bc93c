// Command gendocs makes what README.md and docs/ repeat from knock
// itself, with a knock binary built from this tree:
//
//   - the command reference in the pages' generated regions, from
//     `knock man --json` (the tree that knock help and the man page show);
//   - the pictures docs/img/demo.svg and docs/img/pick.svg, captured from
//     knock demo and knock pick running in tmux, in a sandbox (a temporary
//     home directory, the file store, loopback only).
//
// Without -w it writes nothing, and exits 1 naming every page or picture
// that differs from what the current program makes.
// scripts/check-generated.sh, which the test command runs, calls it so.
//
//	go run ./scripts/gendocs -knock PATH [-w] [-only ref|img]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/a-knock/knock/internal/docs"
	"github.com/a-knock/knock/internal/manpage"
)

func main() {
	knock := flag.String("knock", "", "the knock binary to document (required)")
	write := flag.Bool("w", false, "rewrite the stale pages and pictures")
	only := flag.String("only", "", "ref (the pages' reference) or img (the pictures); default both")
	root := flag.String("C", ".", "the repository's root")
	flag.Parse()
	if *knock == "" || flag.NArg() > 0 || (*only != "" && *only != "ref" && *only != "img") {
		fmt.Fprintln(os.Stderr, "usage: go run ./scripts/gendocs -knock PATH [-w] [-only ref|img] [-C DIR]")
		os.Exit(2)
	}
	bin, err := filepath.Abs(*knock)
	if err == nil {
		err = os.Chdir(*root)
	}
	var stale []string
	if err == nil && *only != "img" {
		var s []string
		s, err = reference(bin, *write)
		stale = append(stale, s...)
	}
	if err == nil && *only != "ref" {
		var s []string
		s, err = pictures(context.Background(), bin, *write)
		stale = append(stale, s...)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gendocs: error:", err)
		os.Exit(1)
	}
	if len(stale) > 0 {
		for _, s := range stale {
			fmt.Fprintln(os.Stderr, "gendocs: stale:", s)
		}
		fmt.Fprintln(os.Stderr, "gendocs: run scripts/check-generated.sh -w and commit the result")
		os.Exit(1)
	}
}

// pages are the markdown files with generated regions or runnable blocks.
func pages() ([]string, error) {
	ps, err := filepath.Glob("docs/*.md")
	if err != nil {
		return nil, err
	}
	return append([]string{"README.md", "CONTRIBUTING.md"}, ps...), nil
}

// tree is what knock man --json prints.
type tree struct {
	Commands []manpage.Command `json:"commands"`
	Page     manpage.Page      `json:"page"`
}

// exitKey names the region that holds the exit status table.
const exitKey = "exit codes"

// reference refreshes the generated regions of every page. Every command
// of the tree must have exactly one region, somewhere.
func reference(bin string, write bool) (stale []string, err error) {
	out, err := exec.Command(bin, "man", "--json").Output()
	if err != nil {
		return nil, fmt.Errorf("%s man --json: %w", bin, err)
	}
	var t tree
	if err := json.Unmarshal(out, &t); err != nil {
		return nil, fmt.Errorf("%s man --json: %w", bin, err)
	}
	byPath := map[string]manpage.Command{}
	for _, c := range t.Commands {
		byPath[c.Path] = c
	}
	gen := func(key string) (string, error) {
		var b strings.Builder
		if key == exitKey {
			err := manpage.MarkdownExitStatus(&b, t.Page)
			return b.String(), err
		}
		c, ok := byPath[key]
		if !ok {
			return "", fmt.Errorf("generated region %q: no such command (a command path such as %q, or %q)", key, "knock ssh", exitKey)
		}
		err := manpage.Markdown(&b, c, 3)
		return b.String(), err
	}

	ps, err := pages()
	if err != nil {
		return nil, err
	}
	where := map[string][]string{}
	for _, p := range ps {
		src, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		got, keys, err := docs.Splice(string(src), gen)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		for _, k := range keys {
			where[k] = append(where[k], p)
		}
		if got == string(src) {
			continue
		}
		if !write {
			stale = append(stale, p+" (its generated reference differs from the command tree)")
			continue
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			return nil, err
		}
		fmt.Println("wrote", p)
	}
	var problems []string
	for _, c := range t.Commands {
		switch n := len(where[c.Path]); {
		case n == 0:
			problems = append(problems, fmt.Sprintf("%q has no generated region in any page (add <!-- generated: %s --> to its page)", c.Path, c.Path))
		case n > 1:
			problems = append(problems, fmt.Sprintf("%q is generated %d times (%s); keep one", c.Path, n, strings.Join(where[c.Path], ", ")))
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return nil, errors.New(strings.Join(problems, "\n"))
	}
	return stale, nil
}

// compare writes data to path with -w, else says whether it differs.
func compare(path string, data []byte, write bool) (stale bool, err error) {
	old, err := os.ReadFile(path)
	if err == nil && bytes.Equal(old, data) {
		return false, nil
	}
	if !write {
		return true, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, err
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return false, err
	}
	fmt.Println("wrote", path)
	return false, nil
}
