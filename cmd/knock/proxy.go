package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/a-knock/knock/internal/relay"
	"github.com/a-knock/knock/internal/seq"
	"github.com/a-knock/knock/internal/sshrun"
)

func init() { register(newProxyCmd) }

// dialTimeout bounds the connection to the opened port.
const dialTimeout = 15 * time.Second

func newProxyCmd() *cobra.Command {
	kf := &knockFlags{}
	c := &cobra.Command{
		Use:   "proxy NAME|HOST PORT",
		Short: "Knock and relay stdin/stdout to the port: ssh's ProxyCommand",
		Long: `knock proxy NAME PORT plays profile NAME's open sequence, waits until the
door is open (the wait port of knock NAME, else PORT accepts), connects to
PORT on the address it knocked and relays stdin and stdout to the
connection until either side ends; then it plays the close sequence.
It is made for ssh's ProxyCommand, so that ssh, scp, sftp, rsync and git
knock by themselves:

  Host myserver
      ProxyCommand knock proxy %n %p

%n is the alias as typed, which names the profile; %h works too when a
profile has that name. stdout carries the relayed stream and nothing else;
diagnostics go to stderr. The end of stdin is passed on as a half-close,
and knock keeps reading until the server is done.`,
		Example: `  ssh -o ProxyCommand='knock proxy %n %p' myserver`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usagef("proxy takes a profile NAME and a PORT: ProxyCommand knock proxy %%n %%p")
			}
			return nil
		},
		ValidArgsFunction: func(cmd *cobra.Command, args []string, s string) ([]string, cobra.ShellCompDirective) {
			return completeHosts(cmd, args, s)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			port, err := seq.ParsePort(args[1])
			if err != nil {
				return asUsage(err)
			}
			return runProxy(cmd.Context(), args[0], port, kf)
		},
	}
	kf.register(c)
	return c
}

func runProxy(ctx context.Context, name string, port uint16, kf *knockFlags) error {
	t, err := resolveTarget(ctx, name, kf)
	if err != nil {
		return err
	}
	// stdout belongs to ssh: --dry-run and -v output go to stderr.
	t.Stdout = os.Stderr
	if t.WaitPort == 0 {
		// No --wait, no wait port in the profile, no ssh_config entry:
		// the port to relay to proves the door open. (Otherwise the probes
		// go to the wait port and PORT sees only the relayed connection.)
		t.WaitPort = port
	}
	if kf.dryRun {
		_, err := t.open(ctx, kf, os.Stderr)
		return err
	}
	var d *door
	if os.Getenv(envOpened) == name {
		// Run by an ssh that knock ssh started: the door is open and
		// knock ssh closes it.
		d = &door{t: t, kf: kf, opened: true}
	} else {
		d = newDoor(t, kf)
	}
	// ssh ends its ProxyCommand with SIGHUP; the Guard turns that (and
	// SIGINT, SIGTERM) into the end of the relay, and a write to the
	// closed stdout into an error instead of death, so the close sequence
	// always runs.
	g := sshrun.New(d.close)
	defer g.Close()
	gctx := g.Context()

	if err := d.open(gctx); err != nil {
		if gctx.Err() != nil {
			return fmt.Errorf("%w while knocking %s", errInterrupted, name)
		}
		return err
	}
	dctx, cancel := context.WithTimeout(gctx, dialTimeout)
	defer cancel()
	var dialer net.Dialer
	nc, err := dialer.DialContext(dctx, "tcp", netip.AddrPortFrom(t.Addr, port).String())
	if err != nil {
		if gctx.Err() != nil {
			return fmt.Errorf("%w while connecting to %s", errInterrupted, name)
		}
		return fmt.Errorf("connect to %s (%s): %w", name, netip.AddrPortFrom(t.Addr, port), err)
	}
	conn, ok := nc.(*net.TCPConn)
	if !ok {
		nc.Close()
		return errors.New("connect: not a TCP connection")
	}
	_, err = relay.Relay(gctx, os.Stdin, os.Stdout, conn)
	if err != nil && gctx.Err() == nil {
		return fmt.Errorf("relay %s: %w", name, err)
	}
	return nil
}
