package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/a-knock/knock/internal/history"
	"github.com/a-knock/knock/internal/picker"
	"github.com/a-knock/knock/internal/profiles"
	"github.com/a-knock/knock/internal/sshrun"
)

func init() {
	register(newPickCmd)
	pickHook = func(cmd *cobra.Command) error {
		return runPick(cmd.Context(), &knockFlags{method: "auto", timeout: defaultTimeout, retries: defaultRetries})
	}
}

func newPickCmd() *cobra.Command {
	kf := &knockFlags{}
	c := &cobra.Command{
		Use:   "pick",
		Short: "Pick a host in a terminal UI, knock it and run ssh",
		Long: `knock pick lists every profile and every concrete Host of ~/.ssh/config with
where it is stored and how its last knock went; it never shows a sequence.
Plain knock in an interactive terminal opens it too.

Keys: enter knocks, verifies and hands the terminal to ssh (the close sequence
follows when ssh ends); k knocks only; c sends the close sequence; / filters
(fuzzy); ? help; q or esc leaves with exit code 130.`,
		Example: "  knock pick\n  NO_COLOR=1 knock pick",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPick(cmd.Context(), kf)
		},
	}
	kf.register(c)
	return c
}

// pickActions knocks and closes for the picker and remembers the doors it
// opened, so that Enter hands an already knocked door to ssh.
type pickActions struct {
	kf     *knockFlags
	mu     sync.Mutex
	opened map[string]*door
}

func (a *pickActions) Knock(ctx context.Context, name string) (string, error) {
	t, err := resolveTarget(ctx, name, a.kf)
	if err != nil {
		return "", err
	}
	t.Stdout = io.Discard
	if a.kf.wait == 0 && t.WaitPort == 0 {
		t.WaitPort = t.SSHPort
	}
	res, err := t.open(ctx, a.kf, io.Discard)
	rec := history.Record{OK: err == nil, At: time.Now()}
	summary := "sequence sent"
	if err != nil {
		rec.Summary = err.Error()
	} else if res.Verified {
		summary = fmt.Sprintf("port %d open after %s", t.WaitPort, res.Elapsed.Round(time.Millisecond))
		rec.Summary = summary
	}
	_ = history.Save(name, rec) // the history is a convenience, never fatal
	if err != nil {
		return "", err
	}
	// Enter hands this door to ssh: already open, closed once per round
	// that was played, as knock ssh does.
	d := &door{t: t, kf: a.kf, opened: true}
	d.rounds.Store(int32(max(res.Rounds, 1)))
	a.mu.Lock()
	a.opened[name] = d
	a.mu.Unlock()
	return summary, nil
}

func (a *pickActions) Close(ctx context.Context, name string) (string, error) {
	t, err := resolveTarget(ctx, name, a.kf)
	if err != nil {
		return "", err
	}
	t.Stdout = io.Discard
	if err := t.close(ctx, a.kf, io.Discard); err != nil {
		return "", err
	}
	return "close sent", nil
}

func runPick(ctx context.Context, kf *knockFlags) error {
	// The picker reads keys from stdin and draws on stderr (stdout stays
	// free for results); without a terminal there it cannot work.
	if !term.IsTerminal(int(os.Stdin.Fd())) || !term.IsTerminal(int(os.Stderr.Fd())) {
		return usagef("knock pick needs an interactive terminal on stdin and stderr; without one, knock a profile by name: knock NAME")
	}
	acts := &pickActions{kf: kf, opened: map[string]*door{}}
	out, err := picker.Run(picker.Options{
		Fast:    pickFastSource,
		Slow:    pickSlowSource,
		Actions: acts,
		NoColor: os.Getenv("NO_COLOR") != "",
		Input:   os.Stdin,
		Output:  os.Stderr, // stdout stays free for results
	})
	if err != nil {
		return err
	}
	if out.Quit || out.SSH == "" {
		return exitError{code: exitInterrupted}
	}
	acts.mu.Lock()
	d := acts.opened[out.SSH]
	acts.mu.Unlock()
	if d == nil {
		return fmt.Errorf("internal error: %s was not knocked", out.SSH)
	}
	sshPath, err := sshrun.LookSSH()
	if err != nil {
		return errors.New("ssh not found in PATH: install the OpenSSH client")
	}
	d.t.Stdout = os.Stdout
	d.closable = closable(d.t) // warns on stderr, now that the picker is gone
	return sshThroughDoor(ctx, sshPath, sshCommand(ctx, sshPath, d.t, nil), d)
}

// pickFastSource reads what the first frame shows: ssh_config hosts, the
// profile names file and the knock history. It asks no keyring and
// resolves no name.
func pickFastSource() ([]picker.Entry, []error) {
	path, _ := profiles.SSHConfigPath(sshConfigFlag)
	entries, errs := picker.ScanSSHConfig(path)
	hist, err := history.Load()
	if err != nil {
		errs = append(errs, err)
	}
	index := make(map[string]int, len(entries))
	for i, e := range entries {
		index[e.Name] = i
	}
	for _, name := range profileNames() {
		if i, ok := index[name]; ok {
			entries[i].HasProfile, entries[i].Store = true, "…"
			continue
		}
		entries = append(entries, picker.Entry{Name: name, HasProfile: true, Store: "…"})
	}
	return withHistory(entries, hist), errs
}

// pickSlowSource lists every store, the keyring included, in the
// background.
func pickSlowSource() ([]picker.Entry, []error) {
	st, err := profiles.Default()
	if err != nil {
		return nil, []error{err}
	}
	list, err := st.List()
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	hist, _ := history.Load()
	entries := make([]picker.Entry, 0, len(list))
	for _, e := range list {
		entries = append(entries, picker.Entry{Name: e.Name, Host: e.Host, Store: string(e.Store), HasProfile: true, Kind: string(e.Kind)})
	}
	return withHistory(entries, hist), errs
}

func withHistory(es []picker.Entry, hist map[string]history.Record) []picker.Entry {
	for i := range es {
		if r, ok := hist[es[i].Name]; ok {
			es[i].LastOK, es[i].LastAt, es[i].LastNote = r.OK, r.At, r.Summary
		}
	}
	return es
}
