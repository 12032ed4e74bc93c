package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/a-knock/knock/internal/door"
	"github.com/a-knock/knock/internal/exit"
	"github.com/a-knock/knock/internal/forward"
	"github.com/a-knock/knock/internal/picker"
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
	fwd  forward.Group // the forwards f started
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
	res, err := d.Open(ctx) // the door records the result in the history
	if err != nil {
		return "", err
	}
	summary := "sequence sent"
	if res.Verified {
		summary = fmt.Sprintf("port %d open after %s", res.Port, res.Elapsed.Round(time.Millisecond))
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
	n := 0
	started, err := p.fwd.Toggle(name, func() (*forward.Forwarder, error) {
		d, err := p.door(ctx, name)
		if err != nil {
			return nil, err
		}
		specs, err := forward.ParseSpecs(d.T.Profile.Forwards, false)
		if err != nil {
			return nil, err
		}
		if n = len(specs); n == 0 {
			return nil, fmt.Errorf("profile %q has no forwards (knock profile edit %s --forward LOCALPORT:REMOTEPORT)", name, name)
		}
		return forward.Listen(d, specs, forward.Options{Linger: forward.DefaultLinger})
	})
	switch {
	case err != nil:
		return "", err
	case !started:
		return "forwards stopped", nil
	}
	return fmt.Sprintf("forwarding %d port(s); connections knock", n), nil
}

// Forwarding returns the status lines of every running forward.
func (p *pickActions) Forwarding() []string { return p.fwd.Lines() }

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
	acts := &pickActions{a: a, opts: opts, open: map[string]*door.Door{}}
	// Forwards started with f run until the picker (and the ssh it hands
	// over to) ends.
	defer acts.fwd.Stop()
	out, err := picker.Run(picker.Options{
		Fast:    picker.FastSource(sshconf.Path(a.sshConfig)),
		Slow:    picker.SlowSource,
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
