package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/a-knock/knock/internal/exit"
)

// completionFiles maps each shell to its committed script in completions/.
var completionFiles = map[string]string{
	"bash":       "knock.bash",
	"zsh":        "_knock",
	"fish":       "knock.fish",
	"powershell": "knock.ps1",
}

// execRoot runs a fresh command tree in process and returns its stdout and
// exit code.
func execRoot(t *testing.T, args ...string) (string, int) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&bytes.Buffer{})
	root.SetArgs(args)
	code := exit.Code(root.Execute())
	return out.String(), code
}

// TestCompletionScriptsUpToDate is the Go side of
// scripts/check-generated.sh: the committed scripts are what the command
// tree generates.
func TestCompletionScriptsUpToDate(t *testing.T) {
	dir := filepath.Join("..", "..", "completions")
	for _, shell := range completionShells {
		t.Run(shell, func(t *testing.T) {
			got, code := execRoot(t, "completion", shell)
			if code != exitOK {
				t.Fatalf("knock completion %s: exit %d", shell, code)
			}
			want, err := os.ReadFile(filepath.Join(dir, completionFiles[shell]))
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("completions/%s differs from `knock completion %s`; run scripts/check-generated.sh -w", completionFiles[shell], shell)
			}
		})
	}
}
