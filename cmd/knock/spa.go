package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/user"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/a-knock/knock/internal/fwknoprc"
	"github.com/a-knock/knock/internal/profiles"
	"github.com/a-knock/knock/internal/sender"
	"github.com/a-knock/knock/internal/spa"
)

func init() { register(newSPACmd) }

// Environment variables that may carry SPA keys for `knock spa send`;
// keys are never taken from the command line, where ps would show them.
const (
	envSPAKey     = "KNOCK_SPA_KEY_BASE64"
	envSPAHMACKey = "KNOCK_SPA_HMAC_KEY_BASE64"
)

func newSPACmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "spa",
		Short: "fwknop single packet authorization: generate keys, send a packet",
		Long: `Single packet authorization (SPA) as fwknop's fwknopd 2.6 accepts it:
one encrypted, authenticated UDP datagram (Rijndael + HMAC-SHA256) asks the
server to open a port for your address. Save it as a profile (knock profile
import ~/.fwknoprc) and run knock NAME, or send one ad hoc with knock spa send.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	c.AddCommand(newSPAKeygenCmd(), newSPASendCmd(), newSPAAddCmd())
	return c
}

func newSPAKeygenCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "keygen",
		Short: "print a new Rijndael and HMAC key pair in fwknop --key-gen format",
		Long: `keygen prints a fresh key pair as fwknop --key-gen does:

  KEY_BASE64: <44 characters>
  HMAC_KEY_BASE64: <88 characters>

Put both lines in the server's access.conf stanza and in your ~/.fwknoprc
stanza (or save the output, chmod 600, as a --key-file).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := spa.GenerateKeys()
			if err != nil {
				return err
			}
			_, err = io.WriteString(cmd.OutOrStdout(), spa.FormatKeyGen(k))
			return err
		},
	}
}

// spaSendFlags are the flags of `knock spa send`.
type spaSendFlags struct {
	access     []string
	allowIP    string
	keyFile    string
	port       uint16
	tcp        bool
	fwTimeout  int
	timeOffset string
	nat        string
	user       string
}

func newSPASendCmd() *cobra.Command {
	kf := &knockFlags{}
	sf := &spaSendFlags{}
	c := &cobra.Command{
		Use:   "send HOST --access tcp/22 [--key-file FILE]",
		Short: "send one SPA packet (keys from --key-file or the environment)",
		Long: `send builds a fresh SPA packet and sends it to HOST.

Keys are never given on the command line. They come from --key-file (the
output of knock spa keygen or fwknop --key-gen; refused when group or others
have access; "-" reads standard input), else from the environment
variables ` + envSPAKey + ` and ` + envSPAHMACKey + `.`,
		Example: `  knock spa keygen > ~/.config/knock/lab.keys && chmod 600 ~/.config/knock/lab.keys
  knock spa send 198.51.100.2 --access tcp/22 --key-file ~/.config/knock/lab.keys --wait 22`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := sf.plan(args[0], kf)
			if err != nil {
				return err
			}
			return p.execute(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := c.Flags()
	f.StringSliceVarP(&sf.access, "access", "A", nil, "ports to open, proto/port (tcp/22,udp/53)")
	f.StringVarP(&sf.allowIP, "allow-ip", "a", "source", "IPv4 address to open the firewall for, or source (the packet's source address)")
	f.StringVar(&sf.keyFile, "key-file", "", "file with KEY_BASE64 and HMAC_KEY_BASE64 lines (mode 600; - for stdin)")
	f.Uint16Var(&sf.port, "spa-port", spa.DefaultPort, "server port of fwknopd")
	f.BoolVar(&sf.tcp, "tcp", false, "send over a TCP connection instead of one UDP datagram (fwknopd needs ENABLE_TCP_SERVER)")
	f.IntVar(&sf.fwTimeout, "fw-timeout", 0, "ask fwknopd to keep the port open this many seconds (0: the server's default)")
	f.StringVar(&sf.timeOffset, "time-offset", "", "add this to the packet's timestamp when clocks differ (-30, 2min, -1hour)")
	f.StringVar(&sf.nat, "nat-access", "", "ask for NAT access to internalIP,port")
	f.StringVar(&sf.user, "user", "", "user name in the packet (default: your login name)")
	f.BoolVarP(&kf.verbose, "verbose", "v", false, "print each packet sent")
	f.Uint16Var(&kf.wait, "wait", 0, "verify: wait until this TCP `PORT` accepts, else resend and fail")
	f.Float64Var(&kf.timeout, "timeout", 10, "seconds to wait for --wait, over all resends")
	f.IntVar(&kf.retries, "retries", 3, "how many fresh packets to resend when --wait sees no open port")
	f.BoolVar(&kf.dryRun, "dry-run", false, "print what would be sent, send nothing")
	_ = c.MarkFlagRequired("access")
	return c
}

func (sf *spaSendFlags) plan(host string, kf *knockFlags) (*spaPlan, error) {
	keys, err := loadSPAKeys(sf.keyFile)
	if err != nil {
		return nil, err
	}
	conf := spaConfig{
		access:    sf.access,
		allowIP:   sf.allowIP,
		port:      sf.port,
		fwTimeout: sf.fwTimeout,
		nat:       sf.nat,
		user:      sf.user,
	}
	if sf.tcp {
		conf.proto = string(spa.TCP)
	}
	if sf.timeOffset != "" {
		d, err := parseSPAOffset(sf.timeOffset)
		if err != nil {
			return nil, err
		}
		conf.timeOffset = d
	}
	p, err := conf.plan(host, keys)
	if err != nil {
		return nil, err
	}
	if err := kf.applySPA(p); err != nil {
		return nil, err
	}
	return p, nil
}

func newSPAAddCmd() *cobra.Command {
	sf := &spaSendFlags{}
	var host, store string
	var waitPort uint16
	c := &cobra.Command{
		Use:   "add NAME --host HOST --access tcp/22 [--key-file FILE]",
		Short: "save an SPA profile (keys from --key-file or the environment)",
		Long: `add saves an SPA profile, so that knock NAME, knock ssh NAME and knock proxy
send its packet. Keys come from --key-file or the environment, as for
knock spa send, and go to the keyring (or the file store). To convert an
existing ~/.fwknoprc, use knock profile import instead.`,
		Example: `  knock spa keygen > lab.keys && chmod 600 lab.keys   # and put both lines in access.conf
  knock spa add lab --host 198.51.100.2 -A tcp/22 --key-file lab.keys
  knock lab`,
		Args: oneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := sf.profile(args[0], host, waitPort, cmd.Flags().Changed("wait-port"))
			if err != nil {
				return err
			}
			return addProfile(p, store)
		},
	}
	f := c.Flags()
	f.StringVar(&host, "host", "", "server to send to (default: the name, through ssh_config)")
	f.StringSliceVarP(&sf.access, "access", "A", nil, "ports to open, proto/port (tcp/22,udp/53)")
	f.StringVarP(&sf.allowIP, "allow-ip", "a", "source", "IPv4 address to open the firewall for, or source")
	f.StringVar(&sf.keyFile, "key-file", "", "file with KEY_BASE64 and HMAC_KEY_BASE64 lines (mode 600; - for stdin)")
	f.Uint16Var(&sf.port, "spa-port", spa.DefaultPort, "server port of fwknopd")
	f.BoolVar(&sf.tcp, "tcp", false, "send over TCP instead of UDP (fwknopd needs ENABLE_TCP_SERVER)")
	f.IntVar(&sf.fwTimeout, "fw-timeout", 0, "ask fwknopd to keep the port open this many seconds (0: the server's default)")
	f.StringVar(&sf.timeOffset, "time-offset", "", "add this to the packet's timestamp when clocks differ (-30, 2min)")
	f.StringVar(&sf.nat, "nat-access", "", "ask for NAT access to internalIP,port")
	f.Uint16Var(&waitPort, "wait-port", 0, "TCP port that proves the door opened (default: the first tcp port of --access; 0 with --wait-port 0: none)")
	f.StringVar(&store, "store", "", "keyring or file (default keyring, else file)")
	_ = c.MarkFlagRequired("access")
	return c
}

// profile builds a validated SPA profile from the flags.
func (sf *spaSendFlags) profile(name, host string, waitPort uint16, waitSet bool) (*profiles.Profile, error) {
	if err := profiles.ValidName(name); err != nil {
		return nil, asUsage(err)
	}
	keys, err := loadSPAKeys(sf.keyFile)
	if err != nil {
		return nil, err
	}
	var offset time.Duration
	if sf.timeOffset != "" {
		if offset, err = parseSPAOffset(sf.timeOffset); err != nil {
			return nil, err
		}
	}
	conf := spaConfig{access: sf.access, allowIP: sf.allowIP, port: sf.port, fwTimeout: sf.fwTimeout, nat: sf.nat, timeOffset: offset}
	if sf.tcp {
		conf.proto = string(spa.TCP)
	}
	pl, err := conf.plan(host, keys)
	if err != nil {
		return nil, err
	}
	k, h := keys.Base64()
	sc := &profiles.SPAConfig{
		KeyBase64:     k,
		HMACKeyBase64: h,
		AllowIP:       sf.allowIP,
		Proto:         conf.proto,
		FWTimeout:     sf.fwTimeout,
		TimeOffset:    int(offset / time.Second),
		UseHMAC:       h != "",
		NATAccess:     sf.nat,
	}
	if sf.port != spa.DefaultPort {
		sc.ServerPort = sf.port
	}
	for _, a := range pl.req.Access {
		sc.Access = append(sc.Access, a.String())
	}
	// fwknopd 2.6 sniffs IPv4 only: knock, ssh and proxy use IPv4.
	p := &profiles.Profile{Name: name, Kind: profiles.KindSPA, Host: host, Family: "inet", SPA: sc, WaitPort: waitPort}
	if !waitSet {
		p.WaitPort = spaWaitPort(pl.req)
	}
	if err := p.Normalize(); err != nil {
		return nil, profileErr(err)
	}
	return p, nil
}

// spaWaitPort is the port that proves an SPA request worked: the NAT
// port, else the first TCP port asked for; 0 when there is none.
func spaWaitPort(req spa.Request) uint16 {
	if req.NAT != nil {
		return req.NAT.Port
	}
	for _, a := range req.Access {
		if a.Proto == "tcp" {
			return a.Port
		}
	}
	return 0
}

// loadSPAKeys reads keys from path ("-" is stdin), else the environment.
func loadSPAKeys(path string) (spa.Keys, error) {
	if path == "" {
		k, h := os.Getenv(envSPAKey), os.Getenv(envSPAHMACKey)
		if k == "" {
			return spa.Keys{}, usagef("no SPA key: give --key-file FILE (see knock spa keygen) or set %s and %s", envSPAKey, envSPAHMACKey)
		}
		keys, err := spa.ParseKeys(k, h)
		return keys, asUsage(err)
	}
	var r io.Reader = os.Stdin
	if path != "-" {
		fh, err := os.Open(path)
		if err != nil {
			return spa.Keys{}, asUsage(err)
		}
		defer fh.Close()
		if err := checkSecretFile(fh, path); err != nil {
			return spa.Keys{}, err
		}
		r = fh
	}
	keys, err := spa.ParseKeyFile(r)
	if err != nil {
		return spa.Keys{}, usagef("key file %s: %v", path, err)
	}
	return keys, nil
}

// checkSecretFile refuses a key file that group or others may read. On
// Windows, where modes do not describe ACLs, it checks nothing.
func checkSecretFile(fh *os.File, path string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	st, err := fh.Stat()
	if err != nil {
		return err
	}
	if st.IsDir() {
		return usagef("key file %s is a directory", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return usagef("key file %s is accessible by group or others (mode %04o); chmod 600 %s", path, perm, path)
	}
	return nil
}

// parseSPAOffset parses a time offset: seconds, or fwknoprc units.
func parseSPAOffset(s string) (time.Duration, error) {
	d, err := fwknoprc.ParseOffset(s)
	return d, asUsage(err)
}

// spaConfig is an SPA request before validation: from a profile or flags.
type spaConfig struct {
	access     []string
	allowIP    string
	port       uint16
	proto      string
	fwTimeout  int
	timeOffset time.Duration
	nat        string
	user       string
}

// spaPlan is everything needed to send one SPA request, and resend it.
type spaPlan struct {
	host    string
	family  sender.Family
	port    uint16
	proto   spa.Proto
	req     spa.Request
	keys    spa.Keys
	enc     spa.Encoder
	verify  sender.Verify
	dryRun  bool
	verbose bool

	addr netip.Addr
}

// plan validates the configuration into a plan; every problem is one
// usage error naming it.
func (c spaConfig) plan(host string, keys spa.Keys) (*spaPlan, error) {
	if err := keys.Validate(); err != nil {
		return nil, asUsage(err)
	}
	acc, err := spa.ParseAccess(c.access...)
	if err != nil {
		return nil, asUsage(err)
	}
	allow, err := spa.ParseAllowIP(c.allowIP)
	if err != nil {
		return nil, asUsage(err)
	}
	proto, err := spa.ParseProto(c.proto)
	if err != nil {
		return nil, asUsage(err)
	}
	if c.fwTimeout < 0 {
		return nil, usagef("invalid fw-timeout %d (want seconds >= 0)", c.fwTimeout)
	}
	req := spa.Request{User: c.user, AllowIP: allow, Access: acc, ClientTimeout: c.fwTimeout}
	if req.User == "" {
		req.User = loginName()
	} else if err := spa.ValidUser(req.User); err != nil {
		return nil, asUsage(err)
	}
	if c.nat != "" {
		if req.NAT, err = spa.ParseNAT(c.nat); err != nil {
			return nil, asUsage(err)
		}
	}
	port := c.port
	if port == 0 {
		port = spa.DefaultPort
	}
	p := &spaPlan{host: host, port: port, proto: proto, req: req, keys: keys}
	p.enc.TimeOffset = c.timeOffset
	// Build one packet now, so that a request too long for fwknopd (or
	// any other problem) is reported before anything is sent.
	if _, err := p.enc.Encode(p.req, p.keys); err != nil {
		return nil, asUsage(err)
	}
	return p, nil
}

// applySPA sets the options of the knock flags that apply to SPA. fwknopd
// 2.6 sniffs IPv4 only, so SPA always resolves the server to IPv4.
func (kf *knockFlags) applySPA(p *spaPlan) error {
	if kf.ipv6 {
		return usagef("-6: fwknopd 2.6 reads SPA packets over IPv4 only")
	}
	p.family = sender.IPv4
	if err := kf.applyVerify(&p.verify); err != nil {
		return err
	}
	p.dryRun = kf.dryRun
	p.verbose = p.verbose || kf.verbose
	return nil
}

// loginName is the user name fwknop would send: the login name, without
// a Windows domain, or "knock" when it is not a valid SPA user name.
func loginName() string {
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if name == "" {
		name = os.Getenv("USER")
	}
	if i := strings.LastIndexByte(name, '\\'); i >= 0 {
		name = name[i+1:]
	}
	if spa.ValidUser(name) != nil {
		return "knock"
	}
	return name
}

func (p *spaPlan) resolve(ctx context.Context) error {
	if p.addr.IsValid() {
		return nil
	}
	a, err := resolveHost(ctx, p.host, p.family)
	if err != nil {
		return asUsage(fmt.Errorf("%w (fwknopd 2.6 reads SPA packets over IPv4 only)", err))
	}
	p.addr = a
	return nil
}

func (p *spaPlan) execute(ctx context.Context, stdout, stderr io.Writer) error {
	_, err := p.run(ctx, stdout, stderr)
	return err
}

// run sends a fresh packet and, with a wait port, waits for the port,
// resending a fresh packet (never a replay) when it stays closed.
func (p *spaPlan) run(ctx context.Context, stdout, stderr io.Writer) (sender.Result, error) {
	var res sender.Result
	if err := p.resolve(ctx); err != nil {
		return res, err
	}
	dst := netip.AddrPortFrom(p.addr, p.port)
	if p.dryRun {
		wire, err := p.enc.Encode(p.req, p.keys)
		if err != nil {
			return res, asUsage(err)
		}
		fmt.Fprintf(stdout, "would send an SPA packet (%d characters) to %s over %s asking for %s\n",
			len(wire), p.whereWithPort(dst), p.proto, p.describe())
		if p.verify.Port != 0 {
			fmt.Fprintf(stdout, "then wait up to %s for tcp port %d, resending up to %d fresh packet(s)\n", p.verify.Timeout, p.verify.Port, p.verify.Retries)
		}
		return res, nil
	}
	if len(p.keys.HMAC) == 0 {
		fmt.Fprintf(stderr, "knock: warning: sending to %s without an HMAC key: fwknopd 2.6 accepts this only for a stanza without HMAC_KEY_BASE64\n", p.where())
	}
	start := time.Now()
	deadline := start.Add(p.verify.Timeout)
	rounds := 1
	if p.verify.Port != 0 {
		rounds += p.verify.Retries
	}
	for round := 0; round < rounds; round++ {
		if err := p.sendOne(ctx, dst, stderr); err != nil {
			return res, err
		}
		res.Rounds++
		if p.verify.Port == 0 {
			res.Elapsed = time.Since(start)
			return res, nil
		}
		wait := time.Until(deadline) / time.Duration(rounds-round)
		if round == rounds-1 || wait < time.Second {
			wait = time.Until(deadline)
		}
		if wait <= 0 {
			break
		}
		err := sender.WaitOpen(ctx, p.addr, p.verify.Port, wait)
		if err == nil {
			res.Verified = true
			res.Elapsed = time.Since(start)
			if p.verbose {
				fmt.Fprintf(stderr, "knock: port %d on %s open after %s (%d packet(s))\n", p.verify.Port, p.addr, res.Elapsed.Round(time.Millisecond), res.Rounds)
			}
			return res, nil
		}
		if !errors.Is(err, sender.ErrNotOpened) {
			return res, err
		}
		if time.Until(deadline) <= 0 {
			break
		}
		if p.verbose && round+1 < rounds {
			fmt.Fprintf(stderr, "knock: port %d not open yet, sending a fresh SPA packet (%d of %d)\n", p.verify.Port, round+2, rounds)
		}
	}
	res.Elapsed = time.Since(start)
	return res, fmt.Errorf("sent %d SPA packet(s) to %s, but %s: %w within %s (check the keys, the clocks, and that fwknopd sees %s/%d)",
		res.Rounds, p.where(), netip.AddrPortFrom(p.addr, p.verify.Port), sender.ErrNotOpened, res.Elapsed.Round(100*time.Millisecond), p.proto, p.port)
}

// where names the server: the host, and the address when they differ.
func (p *spaPlan) where() string {
	if p.host == p.addr.String() {
		return p.host
	}
	return p.host + " (" + p.addr.String() + ")"
}

func (p *spaPlan) whereWithPort(dst netip.AddrPort) string {
	if p.host == p.addr.String() {
		return dst.String()
	}
	return dst.String() + " (" + p.host + ")"
}

// sendOne encodes a fresh packet and sends it.
func (p *spaPlan) sendOne(ctx context.Context, dst netip.AddrPort, stderr io.Writer) error {
	wire, err := p.enc.Encode(p.req, p.keys)
	if err != nil {
		return asUsage(err)
	}
	err = spa.Send(ctx, dst, p.proto, wire)
	if p.verbose {
		ts := time.Now().Format("15:04:05.000000")
		if err != nil {
			fmt.Fprintf(stderr, "knock: %s spa %s %d characters -> %s: %v\n", ts, p.proto, len(wire), dst, err)
		} else {
			fmt.Fprintf(stderr, "knock: %s spa %s %d characters -> %s (%s)\n", ts, p.proto, len(wire), dst, p.describe())
		}
	}
	return err
}

// describe summarises the request, without secrets.
func (p *spaPlan) describe() string {
	var acc []string
	for _, a := range p.req.Access {
		acc = append(acc, a.String())
	}
	allow := "source address"
	if p.req.AllowIP.IsValid() {
		allow = p.req.AllowIP.String()
	}
	s := strings.Join(acc, ",") + " for " + allow
	if p.req.NAT != nil {
		s += " via NAT " + p.req.NAT.String()
	}
	if p.req.ClientTimeout > 0 {
		s += fmt.Sprintf(", %d s", p.req.ClientTimeout)
	}
	return s
}
