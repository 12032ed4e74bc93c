//go:build linux

package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/a-knock/knock/internal/lab"
	"github.com/a-knock/knock/internal/profiles"
)

// The names a completion of a host argument must offer in completionHome,
// and those it must not (ssh_config patterns).
var (
	wantProfiles = []string{"myprofile"}
	wantHosts    = []string{"alpha", "bravo", "charlie", "myprofile"}
	notHosts     = []string{"*.wild", "!gamma", "web?"}
)

// completionHome makes a HOME with an ~/.ssh/config and a profile in the
// file store, and returns the environment for knock with a session bus
// address that counts connections: completion must not reach the keyring.
func completionHome(t *testing.T) (env []string, busDials *atomic.Int32) {
	t.Helper()
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	sshConfig := `Host alpha bravo
    HostName 198.51.100.2
Host charlie
    HostName 198.51.100.3
    Port 2222
Host *.wild !gamma web?
    User nobody
`
	if err := os.WriteFile(filepath.Join(home, ".ssh", "config"), []byte(sshConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(home, ".config")
	st, err := profiles.New(profiles.Options{Dir: filepath.Join(cfg, "knock"), NoKeyring: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Add(&profiles.Profile{Name: "myprofile", Host: "198.51.100.2", Open: "7000:tcp,8000:tcp,9000:tcp"}, profiles.StoreFile); err != nil {
		t.Fatal(err)
	}

	busDials = new(atomic.Int32)
	bus := filepath.Join(home, "bus")
	if l, err := net.Listen("unix", bus); err == nil {
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				busDials.Add(1)
				c.Close()
			}
		}()
	}

	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "KNOCK_") || strings.HasPrefix(k, "DBUS_") ||
			k == "HOME" || k == "XDG_CONFIG_HOME" || k == "PATH" || strings.HasPrefix(k, "BASH_") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"HOME="+home,
		"XDG_CONFIG_HOME="+cfg,
		"PATH="+filepath.Dir(lab.KnockBinary(t))+string(os.PathListSeparator)+os.Getenv("PATH"),
		"DBUS_SESSION_BUS_ADDRESS=unix:path="+bus,
	)
	return env, busDials
}

// hostCommands are the commands whose first argument is a host: a profile
// or an ssh_config name; or, for those that act on a saved profile only,
// a profile name.
var hostCommands = []struct {
	path []string
	want []string
}{
	{nil, wantHosts}, // knock NAME
	{[]string{"ssh"}, wantHosts},
	{[]string{"proxy"}, wantHosts},
	{[]string{"close"}, wantProfiles},
	{[]string{"profile", "show"}, wantProfiles},
	{[]string{"profile", "rm"}, wantProfiles},
	{[]string{"profile", "edit"}, wantProfiles},
}

// TestCompletionHosts asks the binary, as the shell scripts do, for the
// completions of each host argument.
func TestCompletionHosts(t *testing.T) {
	env, busDials := completionHome(t)
	bin := lab.KnockBinary(t)
	for _, hc := range hostCommands {
		t.Run("knock "+strings.Join(hc.path, " "), func(t *testing.T) {
			args := append(append([]string{"__complete"}, hc.path...), "")
			c := exec.Command(bin, args...)
			c.Env = env
			out, err := c.Output()
			if err != nil {
				t.Fatalf("knock %s: %v", strings.Join(args, " "), err)
			}
			checkHosts(t, completionNames(string(out)), hc.want)
		})
	}
	if n := busDials.Load(); n != 0 {
		t.Errorf("completion connected to the session bus (keyring) %d time(s)", n)
	}
}

// completionNames parses `knock __complete` output: one candidate per
// line, a tab before its description, and a last line ":DIRECTIVE".
func completionNames(out string) []string {
	var names []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" || strings.HasPrefix(l, ":") {
			continue
		}
		n, _, _ := strings.Cut(l, "\t")
		names = append(names, n)
	}
	return names
}

func checkHosts(t *testing.T, got, want []string) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("completion lacks %q; got %q", w, got)
		}
	}
	for _, n := range notHosts {
		if slices.Contains(got, n) {
			t.Errorf("completion offers ssh_config pattern %q; got %q", n, got)
		}
	}
}

// bashHarness loads a completion script without bash-completion: cobra's
// script then calls _get_comp_words_by_ref, defined here from COMP_WORDS.
// It completes $LINE as if Tab was pressed at its end and prints COMPREPLY.
const bashHarness = `
_get_comp_words_by_ref() {
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    words=("${COMP_WORDS[@]}")
    cword=$COMP_CWORD
}
if [[ $1 == live ]]; then
    source <(knock completion bash) || exit 3
else
    source "$1" || exit 3
fi
complete -p knock >/dev/null || exit 4
COMP_LINE=$LINE
COMP_POINT=${#COMP_LINE}
read -r -a COMP_WORDS <<<"$COMP_LINE"
[[ $COMP_LINE == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMP_TYPE=9
COMP_KEY=9
__start_knock knock "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
`

// TestCompletionBash loads the bash script (the committed one, and the
// one the binary prints) into bash and presses Tab after `knock ssh `.
func TestCompletionBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatalf("bash is needed for this test: %v", err)
	}
	env, busDials := completionHome(t)
	harness := filepath.Join(t.TempDir(), "harness.bash")
	if err := os.WriteFile(harness, []byte(bashHarness), 0o600); err != nil {
		t.Fatal(err)
	}
	committed := filepath.Join(lab.ModuleRoot(t), "completions", "knock.bash")
	for _, script := range []string{committed, "live"} {
		for _, line := range []string{"knock ", "knock ssh "} {
			t.Run(filepath.Base(script)+"/"+line, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				c := exec.CommandContext(ctx, bash, "--norc", "--noprofile", harness, script)
				c.Env = append(env, "LINE="+line)
				var stderr bytes.Buffer
				c.Stderr = &stderr
				out, err := c.Output()
				if err != nil {
					t.Fatalf("bash: %v\n%s", err, stderr.String())
				}
				var got []string
				for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
					// With several candidates the script appends
					// "  (description)"; the name is the first field.
					if f := strings.Fields(l); len(f) > 0 {
						got = append(got, f[0])
					}
				}
				checkHosts(t, got, wantHosts)
			})
		}
	}
	if n := busDials.Load(); n != 0 {
		t.Errorf("completion connected to the session bus (keyring) %d time(s)", n)
	}
}
