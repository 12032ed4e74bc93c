// Package door owns the path from a name to an open door:
//
//	name ──Lookup──▶ Target ──▶ Door.Open ──▶ (ssh, proxy, a program) ──▶ Door.Close
//
// [Lookup] merges a profile, what ~/.ssh/config says about the name and
// the command line's overrides into a [Target], with the one rule for the
// port that proves the door open ([Target.WaitPort]) and the address
// family. [Adhoc] builds a target without a profile (`knock HOST PORT...`).
// A [Door] plays its target's open action through an opener for the
// profile's kind (a knockd sequence, an fwknop SPA packet, a one-time
// sequence); every opener shares one verify and retry loop ([retry]). A
// door opens once and, once per round it played, closes.
//
// The package prints nothing but the diagnostics it is given writers
// for; exit codes are cmd/knock's business (errors for bad input are
// marked with [exit.Usage]).
package door

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/a-knock/knock/internal/exit"
	"github.com/a-knock/knock/internal/history"
	"github.com/a-knock/knock/internal/profiles"
	"github.com/a-knock/knock/internal/sender"
	"github.com/a-knock/knock/internal/seq"
	"github.com/a-knock/knock/internal/sshconf"
)

// EnvOpened names the environment variable that knock gives the programs
// it runs through an open door (ssh, and what ssh runs: a `Match exec
// "knock %n"` line, a ProxyCommand): the name whose door is open. A knock
// of that name finds it set and sends nothing, since a second open would
// insert a second firewall rule that the one close would leave behind.
const EnvOpened = "KNOCK_OPENED"

// Defaults of the verification options. Thirteen rounds succeed 99.9% of
// the time when a quarter of all knocks are lost (docs/benchmarks.md),
// and fit in the default timeout.
const (
	DefaultRetries = 12
	DefaultTimeout = 10 * time.Second
	// MaxRetries bounds --retries.
	MaxRetries = 100
)

// resolveTimeout bounds the one name lookup of a target.
const resolveTimeout = 10 * time.Second

// Overrides are command-line settings that win over a profile's. A zero
// field leaves the profile's setting.
type Overrides struct {
	Family   sender.Family // -4 or -6
	WaitPort uint16        // --wait

	// Sequence settings, refused for SPA.
	UDP        bool          // -u: knocks without a protocol are udp (ad hoc sequences)
	Delay      time.Duration // -d
	Method     sender.Method // --method; Auto leaves the profile's
	Flags      seq.Flags     // --tcp-flags
	Payload    []byte        // --payload
	SeqTimeout time.Duration // --seq-timeout
}

// Options control how targets are resolved and doors played.
type Options struct {
	Overrides

	// Timeout bounds all rounds of a verified open; zero means
	// [DefaultTimeout]. Retries is how many times a round is replayed
	// while the port stays closed (callers pass [DefaultRetries] unless
	// told otherwise).
	Timeout time.Duration
	Retries int

	// Port is the TCP port the caller connects to once the door is open
	// (PORT for knock proxy); 0 when it connects to none. SSH says it
	// connects to the target's ssh Port (knock ssh, the picker). See
	// [Target.WaitPort].
	Port uint16
	SSH  bool

	DryRun  bool
	Verbose bool
	// Out receives --dry-run plans; Log receives warnings, hints and -v
	// lines. nil discards.
	Out, Log io.Writer

	// Stores holds the profiles; nil means [profiles.Default].
	Stores *profiles.Stores
	// History is where doors learn their replay timers and count the
	// rounds a later close must undo; nil means [history.Default].
	History *history.Store
	// SSHConfig is -F; "" means $KNOCK_SSH_CONFIG, else ~/.ssh/config.
	SSHConfig string
	// SSHPath is the ssh client asked (`ssh -G`) about a name when the
	// ssh_config has Match blocks; "" looks for ssh in PATH.
	SSHPath string
}

func (o *Options) out() io.Writer {
	if o.Out == nil {
		return io.Discard
	}
	return o.Out
}

func (o *Options) log() io.Writer {
	if o.Log == nil {
		return io.Discard
	}
	return o.Log
}

func (o *Options) stores() (*profiles.Stores, error) {
	if o.Stores != nil {
		return o.Stores, nil
	}
	return profiles.Default()
}

// Target is a name resolved for knocking: its profile, what ssh_config
// says about it, and the pinned address.
type Target struct {
	Name    string
	Profile *profiles.Profile // nil for an ad hoc knock
	Store   profiles.StoreName
	SSH     sshconf.Host // ssh_config facts for Name (zero when none)

	Host    string        // knocked: the profile's host, else ssh HostName, else Name
	User    string        // ssh User, "" when unset
	SSHPort uint16        // ssh Port, 22 when unset
	Family  sender.Family // -4/-6, else the profile's, else ssh AddressFamily
	Addr    netip.Addr    // Host resolved once, pinned for every packet

	waitFlag uint16 // --wait
	port     uint16 // Options.Port
}

// WaitPort is the one answer to "which TCP port proves NAME's door
// open": --wait when given; else the profile's wait port; else, for a
// name with a Host entry in ssh_config, its ssh Port; else the port the
// caller is about to connect to (22 for knock ssh and the picker, PORT
// for knock proxy). So knock NAME, knock ssh NAME, knock proxy NAME PORT,
// the picker and doctor wait on the same port for the same NAME whenever
// anything names one. 0 means none is known: the knock goes unverified.
func (t *Target) WaitPort() uint16 {
	switch {
	case t.waitFlag != 0:
		return t.waitFlag
	case t.Profile != nil && t.Profile.WaitPort != 0:
		return t.Profile.WaitPort
	case t.SSH.HasEntry:
		return t.SSHPort
	}
	return t.port
}

// Connects records the port the caller connects to once the door is
// open, when only the profile names it (knock forward NAME without specs):
// see [Options.Port].
func (t *Target) Connects(port uint16) { t.port = port }

// Kind is the kind of the target's profile; an ad hoc target is a
// sequence.
func (t *Target) Kind() profiles.Kind {
	if t.Profile == nil {
		return profiles.KindSequence
	}
	return t.Profile.EffectiveKind()
}

// where names the target: the host, and the address when they differ.
func (t *Target) where() string {
	if t.Host == t.Addr.String() {
		return t.Host
	}
	return t.Host + " (" + t.Addr.String() + ")"
}

// SSHHost returns what ssh_config says about alias, read from the file
// -F, $KNOCK_SSH_CONFIG or the default names. When the file has Match
// blocks and ssh is installed, ssh itself is asked (`ssh -G`), as only
// it can evaluate them.
func SSHHost(ctx context.Context, alias string, opts Options) (sshconf.Host, error) {
	path, explicit := sshconf.Path(opts.SSHConfig)
	cfg, err := sshconf.Load(path, explicit)
	if err != nil {
		return sshconf.Host{Alias: alias}, exit.Usage(err)
	}
	if err := cfg.Err(); err != nil {
		return sshconf.Host{Alias: alias}, exit.Usage(fmt.Errorf("ssh config %w", err))
	}
	h, err := cfg.Lookup(alias)
	if err != nil {
		return h, exit.Usage(err)
	}
	if cfg.HasMatch {
		sshPath := opts.SSHPath
		if sshPath == "" {
			sshPath, _ = exec.LookPath("ssh")
		}
		if sshPath != "" {
			var args []string
			if explicit {
				args = []string{"-F", path}
			}
			// ssh -G runs Match exec lines; one that says "knock %n"
			// must not knock now.
			env := append(os.Environ(), EnvOpened+"="+alias)
			if g, err := sshconf.G(ctx, sshPath, args, alias, env); err == nil {
				mergeG(&h, g)
			}
		}
	}
	return h, nil
}

// mergeG takes what ssh -G says over the static reading. ssh prints
// defaults too (HostName = the alias, Port 22), which say nothing.
func mergeG(h *sshconf.Host, g sshconf.GResult) {
	if g.HostName != "" && g.HostName != h.Alias {
		h.HostName = g.HostName
	}
	if g.Port != 0 && (g.Port != 22 || h.Port != 0) {
		h.Port = g.Port
	}
	if g.User != "" {
		h.User = g.User
	}
	if g.Family != "" && (g.Family != "any" || h.Family != "") {
		h.Family = g.Family
	}
}

// OpenedByParent reports whether this process runs under a knock that
// holds name's door open (see [EnvOpened]): knocking it again would add a
// second firewall rule.
func OpenedByParent(name string) bool { return os.Getenv(EnvOpened) == name }

// FamilyOf maps an ssh_config AddressFamily to a [sender.Family].
func FamilyOf(s string) sender.Family {
	switch s {
	case "inet":
		return sender.IPv4
	case "inet6":
		return sender.IPv6
	}
	return sender.AnyFamily
}

// Resolve merges what is known about name: its profile (Profile is nil
// when there is none), what ssh_config says about it, and the overrides.
// It holds the rules for the host (the profile's, else ssh HostName, else
// the name) and the address family (-4/-6, else the profile's, else ssh
// AddressFamily). It looks no name up: see [Target.Pin].
func Resolve(ctx context.Context, name string, opts Options) (*Target, error) {
	st, err := opts.stores()
	if err != nil {
		return nil, err
	}
	p, store, err := st.Get(name)
	if err != nil && !errors.Is(err, profiles.ErrNotFound) {
		return nil, err
	}
	sh, err := SSHHost(ctx, name, opts)
	if err != nil {
		return nil, err
	}
	t := &Target{Name: name, Profile: p, Store: store, SSH: sh, User: sh.User, SSHPort: sh.Port,
		waitFlag: opts.WaitPort, port: opts.Port}
	if t.SSHPort == 0 {
		t.SSHPort = 22
	}
	if opts.SSH {
		t.port = t.SSHPort
	}
	switch {
	case p != nil && p.Host != "":
		t.Host = p.Host
	case sh.HostName != "":
		t.Host = sh.HostName
	default:
		t.Host = name
	}
	t.Family = FamilyOf(sh.Family)
	if p != nil && p.Family != "" {
		t.Family = FamilyOf(p.Family)
	}
	if opts.Family != sender.AnyFamily {
		t.Family = opts.Family
	}
	return t, nil
}

// Pin looks the host up once and pins the address for every packet.
func (t *Target) Pin(ctx context.Context) error {
	a, err := resolve(ctx, t.Host, t.Family)
	if err != nil {
		if t.Profile != nil {
			err = fmt.Errorf("profile %q: %w", t.Name, err)
		}
		return exit.Usage(err)
	}
	t.Addr = a
	return nil
}

// Lookup resolves profile name ([Resolve]), pins its address and returns
// its door. A name without a profile is bad input.
func Lookup(ctx context.Context, name string, opts Options) (*Door, error) {
	t, err := Resolve(ctx, name, opts)
	if err != nil {
		return nil, err
	}
	if t.Profile == nil {
		return nil, exit.Usagef("no profile %q (see knock profile list; to knock a host give ports: knock HOST PORT...)", name)
	}
	if err := t.Pin(ctx); err != nil {
		return nil, err
	}
	return newDoor(t, opts)
}

// Adhoc is a target without a profile: `knock HOST PORT...`, or
// `knock spa send HOST` when o is an SPA opener (see [AdhocSPA]).
func Adhoc(ctx context.Context, host string, sq seq.Sequence, opts Options) (*Door, error) {
	t := &Target{Name: host, Host: host, SSHPort: 22, Family: opts.Family, waitFlag: opts.WaitPort, port: opts.Port}
	a, err := resolve(ctx, host, t.Family)
	if err != nil {
		return nil, exit.Usage(err)
	}
	t.Addr = a
	d := &Door{T: t, opts: opts}
	d.op = &sequenceOpener{d: d, seq: sq, opts: sequenceOptions(nil, opts)}
	return d, nil
}

func resolve(ctx context.Context, host string, fam sender.Family) (netip.Addr, error) {
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	return sender.Resolve(ctx, host, fam)
}

// Result reports what an open did.
type Result struct {
	Rounds   int           // how many times the open action was played
	Verified bool          // the wait port accepted a connection
	Port     uint16        // the wait port; 0 when none was known
	Elapsed  time.Duration // from the first packet to the verdict
	// Sample is what a verified open measured, which the door's replay
	// timer learns from (see [Door.Plan]); zero when unverified, and when
	// the port was open before the knock (OpenBefore): then it accepted a
	// connection before any door could have answered, and proves nothing.
	Sample     history.Sample
	OpenBefore bool

	settle time.Time // when every round played has had its time to run the door's command
}

// opener plays one kind of door.
type opener interface {
	// open plays the open action, verified when the target has a wait
	// port (through retry), or describes it in a dry run.
	open(ctx context.Context) (Result, error)
	// close plays the close action once; without one (closable false)
	// it sends nothing and says so on the log.
	close(ctx context.Context) error
	closable() bool
}

// Door is a target's door: opened at most once, closed once for every
// round its open action played.
type Door struct {
	T    *Target
	opts Options
	op   opener

	openMu sync.Mutex // one Open at a time: concurrent callers share it
	mu     sync.Mutex
	opened bool      // the door is open: Open does nothing
	rounds int       // rounds the open action played, each of which may have opened
	settle time.Time // when those rounds have had their time to run the door's command
	before bool      // the wait port was open before the knock
}

func newDoor(t *Target, opts Options) (*Door, error) {
	d := &Door{T: t, opts: opts}
	switch k := t.Kind(); k {
	case profiles.KindSequence:
		sq, err := t.Profile.OpenSeq()
		if err != nil {
			return nil, fmt.Errorf("profile %q: malformed open sequence", t.Name)
		}
		d.op = &sequenceOpener{d: d, seq: sq, opts: sequenceOptions(t.Profile, opts)}
	case profiles.KindSPA:
		op, err := newSPAOpener(d)
		if err != nil {
			return nil, err
		}
		d.op = op
	case profiles.KindOTP:
		d.op = &otpOpener{d: d}
	default:
		return nil, fmt.Errorf("profile %q is of kind %q, which this knock cannot play", t.Name, k)
	}
	if OpenedByParent(t.Name) {
		// Run by a program that knock started through this very door:
		// it is open, and the knock that opened it closes it.
		d.opened = true
	}
	return d, nil
}

// SetOutput changes where the door writes --dry-run plans and
// diagnostics (the picker is quiet while it draws, then hands the door to
// ssh on the terminal). Call it while the door is not in use.
func (d *Door) SetOutput(out, log io.Writer) { d.opts.Out, d.opts.Log = out, log }

// Opened reports whether the door is open already: opened by this Door,
// or by the knock that runs this process (see [EnvOpened]).
func (d *Door) Opened() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.opened
}

// Open plays the open action, verified on [Target.WaitPort] when there is
// one, retrying as the options say. An open door is not knocked again;
// callers that come while an Open is under way wait for it and share its
// outcome (knock forward's concurrent connections knock once).
func (d *Door) Open(ctx context.Context) (Result, error) {
	d.openMu.Lock()
	defer d.openMu.Unlock()
	if d.Opened() {
		return Result{}, nil
	}
	res, err := d.op.open(ctx)
	if d.opts.DryRun {
		return res, err
	}
	d.mu.Lock()
	d.rounds += res.Rounds
	if res.settle.After(d.settle) {
		d.settle = res.settle
	}
	d.before = d.before || res.OpenBefore
	if err == nil {
		d.opened = true
	}
	d.mu.Unlock()
	d.remember(res, err)
	return res, err
}

// Expire records that the server closed the door by itself (its
// cmd_timeout or access timeout ran out): the next Open knocks again. The
// rounds played so far stay counted for Close.
func (d *Door) Expire() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.opened = false
}

// Closable reports whether the door has a close action.
func (d *Door) Closable() bool { return d.op.closable() }

// Close plays the close action: once for every round that Open played (a
// door whose command inserts a firewall rule inserts one per completed
// round, and each close deletes one). When Open was never called (knock
// close NAME) it closes once for every round that the history counts
// since the door was last closed, and at least once. See [Door.closeAll]
// for the waits and checks around it. A door without a close action sends
// nothing and says so on the log.
func (d *Door) Close(ctx context.Context) error {
	if !d.op.closable() {
		return d.op.close(ctx) // says why nothing is sent
	}
	d.mu.Lock()
	n, settle, before := d.rounds, d.settle, d.before
	d.rounds, d.settle, d.before = 0, time.Time{}, false
	d.opened = false
	d.mu.Unlock()
	return d.closeAll(ctx, n, settle, before)
}

// CloseTimeout bounds the close action that runs after ssh, the relay
// or a program ended, whatever ended them.
const CloseTimeout = 20 * time.Second

// CloseAfter closes the door, when it has a close action, with a fresh
// context bounded by [CloseTimeout] (the command's context is already
// cancelled when a signal ended it), and reports a failure on the log.
func (d *Door) CloseAfter() {
	if !d.op.closable() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), CloseTimeout)
	defer cancel()
	if err := d.Close(ctx); err != nil {
		fmt.Fprintf(d.opts.log(), "knock: error: close sequence for %s: %s\n", d.T.Name, oneLine(err.Error()))
	}
}

// WarnUnclosable reports on the log, once, that the door cannot be closed
// after use, when it has no close action although its kind has one: the
// door stays open until the server closes it. It returns Closable.
func (d *Door) WarnUnclosable() bool {
	if d.op.closable() {
		return true
	}
	if d.T.Kind() == profiles.KindSequence {
		fmt.Fprintf(d.opts.log(), "knock: warning: profile %q has no close sequence: the door stays open until the server closes it (add one: knock profile edit %s --close SEQ)\n", d.T.Name, d.T.Name)
	}
	return false
}

// oneLine joins the lines of a message.
func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }
