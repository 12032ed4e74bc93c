package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/a-knock/knock/internal/profiles"
	"github.com/a-knock/knock/internal/sender"
	"github.com/a-knock/knock/internal/seq"
)

// sshConfigFlag is the persistent root flag -F/--ssh-config. It lives on
// pflag's global set, which cobra adds to the root's persistent flags, so
// that this file can add it without touching root.go.
var sshConfigFlag string

func init() {
	pflag.CommandLine.StringVarP(&sshConfigFlag, "ssh-config", "F", "",
		"read this ssh_config `FILE` instead of ~/.ssh/config (default $"+profiles.EnvSSHConfig+")")
	// In-process tests run the command tree more than once.
	cobra.OnFinalize(func() {
		sshConfigFlag = ""
		if f := pflag.CommandLine.Lookup("ssh-config"); f != nil {
			f.Changed = false
		}
	})
	playProfileHook = func(cmd *cobra.Command, name string, kf *knockFlags, closing bool) error {
		return playProfile(cmd.Context(), name, kf, closing)
	}
	completeHosts = completeHostNames
}

// player plays one kind of profile. The sequence player is below; the SPA
// and OTP code add theirs to players from their own files.
type player struct {
	// open opens the door and, when t.WaitPort is set, verifies it.
	open func(ctx context.Context, t *target, kf *knockFlags, stderr io.Writer) (sender.Result, error)
	// close closes the door; nil when the kind has no close action.
	close func(ctx context.Context, t *target, kf *knockFlags, stderr io.Writer) error
}

// players maps each profile kind to how it is played.
var players = map[profiles.Kind]player{
	profiles.KindSequence: {open: openSequence, close: closeSequence},
}

// target is a profile resolved for playing: the profile, what ssh_config
// says about its name, and the pinned address.
type target struct {
	Name    string
	Profile *profiles.Profile
	Store   profiles.StoreName
	SSH     profiles.SSHHost // ssh_config facts for Name (zero when none)

	Host     string        // knocked: the profile's host, else ssh HostName, else Name
	User     string        // ssh User, "" when unset
	SSHPort  uint16        // ssh Port, 22 when unset
	Family   sender.Family // -4/-6, else the profile's, else ssh AddressFamily
	Addr     netip.Addr    // Host resolved once, pinned for every packet
	WaitPort uint16        // --wait, else the profile's, else ssh Port when Name has a Host entry; 0 none

	// Stdout receives --dry-run output; os.Stdout unless a caller (knock
	// proxy) must keep its stdout clean.
	Stdout io.Writer
}

// resolveTarget loads profile name from the stores, applies ssh_config and
// the command-line flags and resolves the host once.
func resolveTarget(ctx context.Context, name string, kf *knockFlags) (*target, error) {
	st, err := profiles.Default()
	if err != nil {
		return nil, err
	}
	p, store, err := st.Get(name)
	if errors.Is(err, profiles.ErrNotFound) {
		return nil, usagef("no profile %q (see knock profile list; to knock a host give ports: knock HOST PORT...)", name)
	}
	if err != nil {
		return nil, err
	}
	sh, err := lookupSSH(name)
	if err != nil {
		return nil, asUsage(err)
	}
	t := &target{Name: name, Profile: p, Store: store, SSH: sh, User: sh.User, SSHPort: sh.Port, Stdout: os.Stdout}
	if t.SSHPort == 0 {
		t.SSHPort = 22
	}
	switch {
	case p.Host != "":
		t.Host = p.Host
	case sh.HostName != "":
		t.Host = sh.HostName
	default:
		t.Host = name
	}
	t.Family = familyOf(sh.Family)
	if p.Family != "" {
		t.Family = familyOf(p.Family)
	}
	switch {
	case kf.ipv4:
		t.Family = sender.IPv4
	case kf.ipv6:
		t.Family = sender.IPv6
	}
	switch {
	case kf.wait != 0:
		t.WaitPort = kf.wait
	case p.WaitPort != 0:
		t.WaitPort = p.WaitPort
	case sh.HasEntry:
		t.WaitPort = t.SSHPort
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if t.Addr, err = sender.Resolve(rctx, t.Host, t.Family); err != nil {
		return nil, asUsage(fmt.Errorf("profile %q: %w", name, err))
	}
	return t, nil
}

// lookupSSH reads the ssh_config chosen by -F, $KNOCK_SSH_CONFIG or the
// default, and returns what it says about alias.
func lookupSSH(alias string) (profiles.SSHHost, error) {
	cfg, err := loadSSHConfig()
	if err != nil {
		return profiles.SSHHost{Alias: alias}, err
	}
	return cfg.Lookup(alias)
}

func loadSSHConfig() (*profiles.SSHConfig, error) {
	path, explicit := profiles.SSHConfigPath(sshConfigFlag)
	return profiles.LoadSSHConfig(path, explicit)
}

func familyOf(s string) sender.Family {
	switch s {
	case "inet":
		return sender.IPv4
	case "inet6":
		return sender.IPv6
	}
	return sender.AnyFamily
}

func (t *target) player() (player, error) {
	k := t.Profile.EffectiveKind()
	pl, ok := players[k]
	if !ok || pl.open == nil {
		return player{}, fmt.Errorf("profile %q is of kind %q, which this knock cannot play", t.Name, k)
	}
	return pl, nil
}

// open plays the profile's open action, verified when a wait port is known.
func (t *target) open(ctx context.Context, kf *knockFlags, stderr io.Writer) (sender.Result, error) {
	pl, err := t.player()
	if err != nil {
		return sender.Result{}, err
	}
	return pl.open(ctx, t, kf, stderr)
}

// close plays the profile's close action. A profile without one gets a
// warning and nil.
func (t *target) close(ctx context.Context, kf *knockFlags, stderr io.Writer) error {
	pl, err := t.player()
	if err != nil {
		return err
	}
	if pl.close == nil {
		fmt.Fprintf(stderr, "knock: warning: profile %q (%s) has no close action; nothing sent\n", t.Name, t.Profile.EffectiveKind())
		return nil
	}
	return pl.close(ctx, t, kf, stderr)
}

// playProfile is `knock NAME` and `knock close NAME`.
func playProfile(ctx context.Context, name string, kf *knockFlags, closing bool) error {
	if !closing && os.Getenv(envOpened) == name {
		// Run by an ssh that knock ssh started (a Match exec line): the
		// door is open, and a second open would leave a rule behind.
		return nil
	}
	t, err := resolveTarget(ctx, name, kf)
	if err != nil {
		return err
	}
	if closing {
		return t.close(ctx, kf, os.Stderr)
	}
	_, err = t.open(ctx, kf, os.Stderr)
	return err
}

// sequencePlan builds the knockPlan for sq: the profile's settings first,
// then the flags the user gave, which override them.
func (t *target) sequencePlan(kf *knockFlags, sq seq.Sequence, verify bool) (*knockPlan, error) {
	p := t.Profile
	pl := &knockPlan{host: t.Host, seq: sq, family: t.Family, addr: t.Addr, secret: true}
	pl.opts.Delay = time.Duration(p.DelayMS) * time.Millisecond
	m, err := sender.ParseMethod(p.Method)
	if err != nil {
		return nil, fmt.Errorf("profile %q: %w", t.Name, err)
	}
	pl.opts.Method = m
	if pl.opts.Flags, err = seq.ParseFlags(p.TCPFlags); err != nil {
		return nil, fmt.Errorf("profile %q: %w", t.Name, err)
	}
	if p.SeqTimeout > 0 {
		pl.seqTimeout = time.Duration(p.SeqTimeout) * time.Second
	}
	if err := kf.apply(pl); err != nil {
		return nil, err
	}
	pl.verify.Port = 0
	if verify {
		pl.verify.Port = t.WaitPort
	}
	return pl, nil
}

func openSequence(ctx context.Context, t *target, kf *knockFlags, stderr io.Writer) (sender.Result, error) {
	sq, err := t.Profile.OpenSeq()
	if err != nil {
		return sender.Result{}, fmt.Errorf("profile %q: malformed open sequence", t.Name)
	}
	pl, err := t.sequencePlan(kf, sq, true)
	if err != nil {
		return sender.Result{}, err
	}
	res, err := pl.run(ctx, t.Stdout, stderr)
	if err == nil && pl.verify.Port == 0 && !pl.dryRun {
		fmt.Fprintf(stderr, "knock: hint: knocked %s without verifying; to check that the door opened, give --wait PORT or save one: knock profile edit %s --wait-port PORT\n", t.Name, t.Name)
	}
	return res, err
}

func closeSequence(ctx context.Context, t *target, kf *knockFlags, stderr io.Writer) error {
	sq, err := t.Profile.CloseSeq()
	if err != nil {
		return fmt.Errorf("profile %q: malformed close sequence", t.Name)
	}
	if len(sq) == 0 {
		fmt.Fprintf(stderr, "knock: warning: profile %q has no close sequence; nothing sent (add one: knock profile edit %s --close SEQ)\n", t.Name, t.Name)
		return nil
	}
	pl, err := t.sequencePlan(kf, sq, false)
	if err != nil {
		return err
	}
	_, err = pl.run(ctx, t.Stdout, stderr)
	return err
}

// profileNames lists profile names for completion from the names file
// only: no secret is read and the keyring is never asked, so completion
// cannot raise an unlock prompt. Any error gives no names.
func profileNames() []string {
	st, err := profiles.Default()
	if err != nil {
		return nil
	}
	return st.Names()
}

// completeHostNames completes the first argument of `knock`: profile
// names and the concrete Host names of ssh_config.
func completeHostNames(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	names := profileNames()
	if cfg, err := loadSSHConfig(); err == nil {
		names = append(names, cfg.HostNames()...)
	}
	slices.Sort(names)
	return slices.Compact(names), cobra.ShellCompDirectiveNoFileComp
}
