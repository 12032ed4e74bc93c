package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/a-knock/knock/internal/door"
	"github.com/a-knock/knock/internal/exit"
	"github.com/a-knock/knock/internal/forward"
	"github.com/a-knock/knock/internal/history"
	"github.com/a-knock/knock/internal/picker"
	"github.com/a-knock/knock/internal/profiles"
	"github.com/a-knock/knock/internal/sshconf"
	"github.com/a-knock/knock/internal/sshrun"
)

func (a *app) newPickCmd() *cobra.Command {
	kf := &knockFlags{}
	c := &cobra.Command{
		Use:   "pick",
		Short: "Pick a host in a terminal UI, knock it and run ssh",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runPick(cmd.Context(), kf)
		},
	}
	kf.register(c, retriesDefault)
	return c
}

// pickActions knocks and closes for the picker and remembers the doors it
// opened, so that Enter hands an already knocked door to ssh.
type pickActions struct {
	a    *app
	opts door.Options
	mu   sync.Mutex
	open map[string]*door.Door
	fwd  map[string]*pickForward // running forwards by profile
}

// pickForward is one profile's forwards, running until stop.
type pickForward struct {
	f    *forward.Forwarder
	stop context.CancelFunc
	done chan struct{}
}

// door looks name up as knock ssh does, quietly: the picker owns the
// terminal.
func (p *pickActions) door(ctx context.Context, name string) (*door.Door, error) {
	opts := p.opts
	opts.Out, opts.Log = io.Discard, io.Discard
	opts.SSH = true
	return door.Lookup(ctx, name, opts)
}

func (p *pickActions) Knock(ctx context.Context, name string) (string, error) {
	d, err := p.door(ctx, name)
	if err != nil {
		return "", err
	}
	res, err := d.Open(ctx)
	rec := history.Record{OK: err == nil, At: time.Now()}
	summary := "sequence sent"
	if err != nil {
		rec.Summary = err.Error()
	} else if res.Verified {
		summary = fmt.Sprintf("port %d open after %s", res.Port, res.Elapsed.Round(time.Millisecond))
		rec.Summary = summary
	}
	_ = history.Save(name, rec) // the history is a convenience, never fatal
	if err != nil {
		return "", err
	}
	p.mu.Lock()
	p.open[name] = d
	p.mu.Unlock()
	return summary, nil
}

func (p *pickActions) Close(ctx context.Context, name string) (string, error) {
	d, err := p.door(ctx, name)
	if err != nil {
		return "", err
	}
	if err := d.Close(ctx); err != nil {
		return "", err
	}
	return "close sent", nil
}

// Forward starts the forwards that profile name carries, or stops them
// (closing the door) when they run.
func (p *pickActions) Forward(ctx context.Context, name string) (string, error) {
	p.mu.Lock()
	running := p.fwd[name]
	delete(p.fwd, name)
	p.mu.Unlock()
	if running != nil {
		running.stop()
		<-running.done
		return "forwards stopped", nil
	}
	d, err := p.door(ctx, name)
	if err != nil {
		return "", err
	}
	specs, err := parseForwards(d.T.Profile.Forwards, false)
	if err != nil {
		return "", err
	}
	if len(specs) == 0 {
		return "", fmt.Errorf("profile %q has no forwards (knock profile edit %s --forward LOCALPORT:REMOTEPORT)", name, name)
	}
	f, err := forward.Listen(d, specs, forward.Options{Linger: forward.DefaultLinger})
	if err != nil {
		return "", err
	}
	fctx, stop := context.WithCancel(context.Background())
	pf := &pickForward{f: f, stop: stop, done: make(chan struct{})}
	go func() {
		defer close(pf.done)
		_ = f.Serve(fctx)
	}()
	p.mu.Lock()
	p.fwd[name] = pf
	p.mu.Unlock()
	return fmt.Sprintf("forwarding %d port(s); connections knock", len(specs)), nil
}

// Forwarding returns the status lines of every running forward.
func (p *pickActions) Forwarding() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var lines []string
	for _, pf := range p.fwd {
		lines = append(lines, pf.f.Lines()...)
	}
	slices.Sort(lines)
	return lines
}

// stopForwards ends every forward, each closing its door.
func (p *pickActions) stopForwards() {
	p.mu.Lock()
	fwd := p.fwd
	p.fwd = nil
	p.mu.Unlock()
	for _, pf := range fwd {
		pf.stop()
		<-pf.done
	}
}

func (a *app) runPick(ctx context.Context, kf *knockFlags) error {
	// The picker reads keys from stdin and draws on stderr (stdout stays
	// free for results); without a terminal there it cannot work.
	if !term.IsTerminal(int(os.Stdin.Fd())) || !term.IsTerminal(int(os.Stderr.Fd())) {
		return usagef("knock pick needs an interactive terminal on stdin and stderr; without one, knock a profile by name: knock NAME")
	}
	opts, err := a.options(kf)
	if err != nil {
		return err
	}
	sshPath, err := sshrun.LookSSH("")
	if err != nil {
		return err
	}
	acts := &pickActions{a: a, opts: opts, open: map[string]*door.Door{}, fwd: map[string]*pickForward{}}
	// Forwards started with f run until the picker (and the ssh it hands
	// over to) ends.
	defer acts.stopForwards()
	out, err := picker.Run(picker.Options{
		Fast:    a.pickFastSource,
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
		return exit.WithCode(exit.Interrupted, nil)
	}
	acts.mu.Lock()
	d := acts.open[out.SSH]
	acts.mu.Unlock()
	if d == nil {
		return fmt.Errorf("internal error: %s was not knocked", out.SSH)
	}
	// Enter is knock ssh NAME with the door the picker opened: now that
	// the picker is gone, diagnostics go to the terminal again.
	d.SetOutput(os.Stdout, os.Stderr)
	return sshrun.SSH(ctx, d, a.sshOptions(sshPath, nil, false))
}

// pickFastSource reads what the first frame shows: ssh_config hosts, the
// profile names file and the knock history. It asks no keyring and
// resolves no name.
func (a *app) pickFastSource() ([]picker.Entry, []error) {
	var entries []picker.Entry
	var errs []error
	cfg, err := sshconf.Load(sshconf.Path(a.sshConfig))
	if err != nil {
		errs = append(errs, err)
	} else {
		errs = append(errs, cfg.Problems...)
		for _, e := range cfg.Hosts() {
			entries = append(entries, picker.Entry{Name: e.Alias, Host: e.HostName})
		}
	}
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
