package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/a-knock/knock/internal/profiles"
	"github.com/a-knock/knock/internal/sshrun"
)

func init() { register(newSSHCmd) }

// envOpened names the environment variable knock ssh gives ssh: the
// profile whose door is open. A `Match exec "knock %n"` line that ssh runs
// then finds the door open and sends nothing: a second open would insert
// a second ACCEPT rule, which the one close sequence would leave behind.
const envOpened = "KNOCK_OPENED"

// closeTimeout bounds the close sequence that runs after ssh or the relay
// ended, whatever ended them.
const closeTimeout = 20 * time.Second

func newSSHCmd() *cobra.Command {
	kf := &knockFlags{}
	c := &cobra.Command{
		Use:   "ssh NAME [-- SSH-ARGS...]",
		Short: "Knock, run ssh, and play the close sequence when it ends",
		Long: `knock ssh NAME resolves NAME through the profiles and ~/.ssh/config, plays
the open sequence, waits until the ssh port accepts (replaying the sequence
as --retries says), then runs the system ssh with the terminal passed
through. It pins what it knocked: ssh gets -4 or -6 and the knocked address
as HostName, with HostKeyAlias set to the name known_hosts holds the key
under, so existing known_hosts entries keep matching.

The close sequence is played on every way out: ssh exits or fails, Ctrl+C,
SIGTERM, SIGHUP (the terminal closed); on Windows also Ctrl+Break and
closing the console. Signals are passed on to ssh. knock exits with ssh's
exit code.

knock's own flags go before NAME; everything after NAME (or after --) goes
to ssh: its options, then the remote command.`,
		Example: `  knock ssh myserver
  knock ssh myserver -- uptime
  knock ssh myserver -- -L 8080:localhost:80 -N`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("ssh needs a profile NAME: knock ssh NAME [-- SSH-ARGS...]")
			}
			return nil
		},
		ValidArgsFunction: func(cmd *cobra.Command, args []string, s string) ([]string, cobra.ShellCompDirective) {
			return completeHosts(cmd, args, s)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			rest := args[1:]
			if len(rest) > 0 && rest[0] == "--" {
				rest = rest[1:]
			}
			return runSSH(cmd.Context(), args[0], rest, kf)
		},
	}
	// Everything after NAME belongs to ssh, flags included.
	c.Flags().SetInterspersed(false)
	kf.register(c)
	return c
}

func runSSH(ctx context.Context, name string, sshArgs []string, kf *knockFlags) error {
	sshPath, err := sshrun.LookSSH()
	if err != nil {
		return errors.New("ssh not found in PATH: install the OpenSSH client")
	}
	t, err := resolveTarget(ctx, name, kf)
	if err != nil {
		return err
	}
	if kf.wait == 0 {
		// The point of knocking here is the ssh port.
		t.WaitPort = t.SSHPort
	}
	args := sshCommand(ctx, sshPath, t, sshArgs)
	if kf.dryRun {
		if _, err := t.open(ctx, kf, os.Stderr); err != nil {
			return err
		}
		fmt.Fprintf(t.Stdout, "then run: %s\n", strings.Join(append([]string{sshPath}, args...), " "))
		return nil
	}
	return sshThroughDoor(ctx, sshPath, args, newDoor(t, kf))
}

// sshThroughDoor opens d (unless it is open already), runs ssh with args
// and closes d on every way out: normal exit, failure, or a signal.
func sshThroughDoor(ctx context.Context, sshPath string, args []string, d *door) error {
	g := sshrun.New(d.close)
	defer g.Close()

	if err := d.open(g.Context()); err != nil {
		if g.Context().Err() != nil {
			return fmt.Errorf("%w while knocking %s", errInterrupted, d.t.Name)
		}
		return err
	}
	c := exec.Command(sshPath, args...)
	c.Env = append(os.Environ(), envOpened+"="+d.t.Name)
	code, err := g.Run(c)
	if err != nil {
		if errors.Is(err, sshrun.ErrSignal) {
			return fmt.Errorf("%w before ssh started", errInterrupted)
		}
		return fmt.Errorf("run ssh: %w", err)
	}
	g.Close()
	if code != 0 {
		return exitError{code: code}
	}
	return nil
}

// door is a target's door as knock ssh and knock proxy use it: opened
// once, closed once on every way out.
type door struct {
	t        *target
	kf       *knockFlags
	closable bool
	opened   bool // open already: open does nothing (close still runs when closable)
	rounds   atomic.Int32
}

// newDoor returns the door of t, warning once when it cannot be closed.
func newDoor(t *target, kf *knockFlags) *door {
	d := &door{t: t, kf: kf, closable: closable(t)}
	d.rounds.Store(1)
	return d
}

// open plays the open action and waits for t.WaitPort.
func (d *door) open(ctx context.Context) error {
	if d.opened {
		return nil
	}
	res, err := d.t.open(ctx, d.kf, os.Stderr)
	if res.Rounds > 1 {
		d.rounds.Store(int32(res.Rounds))
	}
	return err
}

// close plays the close action with a fresh, bounded context (the
// command's context is already cancelled when a signal ended ssh), once
// for every round the open sequence was played: a door that inserts a
// firewall rule inserts one per completed round, and each close deletes
// one.
func (d *door) close() {
	if !d.closable {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	for i := int32(0); i < d.rounds.Load(); i++ {
		if err := d.t.close(ctx, d.kf, os.Stderr); err != nil {
			fmt.Fprintf(os.Stderr, "knock: error: close sequence for %s: %s\n", d.t.Name, strings.ReplaceAll(err.Error(), "\n", " "))
			return
		}
	}
}

// closeTarget plays t's close action once with a fresh, bounded context,
// reporting a failure on stderr. The picker uses it after its own knock.
func closeTarget(t *target, kf *knockFlags) {
	d := &door{t: t, kf: kf, closable: true}
	d.rounds.Store(1)
	d.close()
}

// closable reports whether t has a close action, warning once when a
// sequence profile lacks its close sequence: the door then stays open
// until the server's own timeout.
func closable(t *target) bool {
	pl, err := t.player()
	if err != nil || pl.close == nil {
		return false
	}
	if t.Profile.EffectiveKind() == profiles.KindSequence && strings.TrimSpace(t.Profile.Close) == "" {
		warnf("profile %q has no close sequence: the door stays open until the server closes it (add one: knock profile edit %s --close SEQ)", t.Name, t.Name)
		return false
	}
	return true
}

// sshCommand builds ssh's arguments: the ssh_config knock read, the
// knocked family and address, the name known_hosts knows the server by,
// the alias (so the user's Host blocks still apply), then the user's
// arguments.
func sshCommand(ctx context.Context, sshPath string, t *target, user []string) []string {
	var args []string
	if path, explicit := profiles.SSHConfigPath(sshConfigFlag); explicit {
		args = append(args, "-F", path)
	}
	if t.Addr.Is4() {
		args = append(args, "-4")
	} else {
		args = append(args, "-6")
	}
	alias := hostKeyAlias(ctx, sshPath, args, t)
	args = append(args, "-o", "HostName="+t.Addr.String(), "-o", "HostKeyAlias="+alias, t.Name)
	return append(args, user...)
}

// hostKeyAlias returns the name under which known_hosts holds the
// server's key: the user's own HostKeyAlias; else the HostName ssh_config
// gives, or the profile's host when ssh_config gives none (the name the
// user would otherwise ssh to), or NAME; as "[host]:port" for another port
// than 22, as ssh writes it. It asks `ssh -G`, which applies the whole
// ssh_config as ssh will, and falls back on knock's own reading of it.
func hostKeyAlias(ctx context.Context, sshPath string, pre []string, t *target) string {
	host, port := t.SSH.HostName, t.SSHPort
	if host == "" {
		host = t.Name
	}
	ownHost := t.SSH.HostName == "" && t.Profile.Host != ""
	alias := ""
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, sshPath, append(append([]string{"-G"}, pre...), t.Name)...)
	c.Env = append(os.Environ(), envOpened+"="+t.Name) // ssh -G runs Match exec too
	var out bytes.Buffer
	c.Stdout = &out
	c.Stderr = io.Discard
	if c.Run() == nil {
		g := parseSSHG(out.Bytes())
		if g.hostname != "" {
			host = g.hostname
		}
		if g.port != 0 {
			port = g.port
		}
		alias = g.hostKeyAlias
	}
	if alias != "" {
		return alias
	}
	if ownHost {
		host = t.Profile.Host
	}
	host = strings.ToLower(host)
	if port != 0 && port != 22 {
		return "[" + host + "]:" + strconv.Itoa(int(port))
	}
	return host
}

// sshG is what knock needs from `ssh -G` output.
type sshG struct {
	hostname     string
	port         uint16
	hostKeyAlias string
}

// parseSSHG reads the "keyword value" lines `ssh -G` prints; keywords are
// lower case there. Unknown or malformed lines are skipped.
func parseSSHG(b []byte) sshG {
	var g sshG
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		v = strings.TrimSpace(v)
		if !ok || v == "" {
			continue
		}
		switch k {
		case "hostname":
			g.hostname = v
		case "port":
			if n, err := strconv.Atoi(v); err == nil && n > 0 && n < 65536 {
				g.port = uint16(n)
			}
		case "hostkeyalias":
			if v != "none" {
				g.hostKeyAlias = v
			}
		}
	}
	return g
}
