package sshrun

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"

	"github.com/a-knock/knock/internal/door"
	"github.com/a-knock/knock/internal/exit"
)

// Through opens d (unless it is open already), runs work and closes d on
// every way out: work returns, fails, or a signal arrives, before, during
// or after it. work gets the [Guard], whose context ends at the first
// signal and which runs children with signals forwarded.
func Through(d *door.Door, work func(g *Guard) error) error {
	closable := d.WarnUnclosable()
	g := New(func() {
		if closable {
			d.CloseAfter()
		}
	})
	defer g.Close()
	if _, err := d.Open(g.Context()); err != nil {
		if g.Context().Err() != nil {
			return fmt.Errorf("%w while knocking %s", exit.ErrInterrupted, d.T.Name)
		}
		return err
	}
	err := work(g)
	g.Close()
	return err
}

// Environment variables a program run through a door sees, besides
// [door.EnvOpened].
const (
	EnvName = "KNOCK_NAME" // the profile's name
	EnvAddr = "KNOCK_ADDR" // the one address knocked
	EnvPort = "KNOCK_PORT" // the port that proved the door open; unset when none was known
)

// Run is knock run (and, with an ssh command line, knock ssh): the door
// opens, c runs in the foreground with the terminal passed through and
// the door's facts in its environment ([EnvName], [EnvAddr], [EnvPort],
// [door.EnvOpened]), the door closes on every way out. A non-zero exit
// of c is returned as [exit.WithCode] with nothing to print.
func Run(d *door.Door, c *exec.Cmd) error {
	return Through(d, func(g *Guard) error { return runChild(g, d, c) })
}

func runChild(g *Guard, d *door.Door, c *exec.Cmd) error {
	if c.Env == nil {
		c.Env = os.Environ()
	}
	t := d.T
	c.Env = append(c.Env, door.EnvOpened+"="+t.Name, EnvName+"="+t.Name, EnvAddr+"="+t.Addr.String())
	if p := t.WaitPort(); p != 0 {
		c.Env = append(c.Env, EnvPort+"="+strconv.Itoa(int(p)))
	}
	code, err := g.Run(c)
	if err != nil {
		if errors.Is(err, ErrSignal) {
			return fmt.Errorf("%w before %s started", exit.ErrInterrupted, c.Args[0])
		}
		return fmt.Errorf("run %s: %w", c.Args[0], err)
	}
	if code != 0 {
		return exit.WithCode(code, nil)
	}
	return nil
}
