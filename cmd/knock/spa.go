package main

import (
	"bytes"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/a-knock/knock/internal/door"
	"github.com/a-knock/knock/internal/fwknoprc"
	"github.com/a-knock/knock/internal/profiles"
	"github.com/a-knock/knock/internal/spa"
)

// Environment variables that may carry SPA secrets for `knock spa send`
// and `knock spa add`; secrets are never taken from the command line,
// where ps would show them.
const (
	envSPAKey     = "KNOCK_SPA_KEY_BASE64"
	envSPAHMACKey = "KNOCK_SPA_HMAC_KEY_BASE64"
	envGPGPW      = "KNOCK_GPG_SIGNING_PW"
)

func (a *app) newSPACmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "spa",
		Short: "fwknop single packet authorization: generate keys, send a packet",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	send := a.newSPASendCmd()
	c.AddCommand(newSPAKeygenCmd(), send, newSPAAddCmd())
	c.Long += "\n\nThe options of knock spa send and knock spa add (see their --help):\n" + flagList(send, 76)
	return c
}

// flagList lists the visible flags of c, "-A/--access", wrapped at width
// and indented by two spaces.
func flagList(c *cobra.Command, width int) string {
	var b strings.Builder
	line := " "
	c.LocalFlags().VisitAll(func(f *pflag.Flag) {
		if f.Hidden || f.Deprecated != "" || f.Name == "help" {
			return
		}
		name := "--" + f.Name
		if f.Shorthand != "" {
			name = "-" + f.Shorthand + "/" + name
		}
		if len(line)+len(name)+2 > width {
			b.WriteString(line + "\n")
			line = " "
		}
		line += " " + name
	})
	b.WriteString(line)
	return b.String()
}

func newSPAKeygenCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "keygen",
		Short: "print a new Rijndael and HMAC key pair in fwknop --key-gen format",
		Args:  cobra.NoArgs,
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

// spaFlags are the request flags of `knock spa send` and `knock spa add`,
// named as fwknop's client names them.
type spaFlags struct {
	access                  []string
	allowIP                 string
	sourceIP, resolveIP     bool
	resolveURL              string
	httpOnly                bool
	keyFile                 string
	digest, hmacDigest      string
	mode                    string
	gpg, gpgNoPW            bool
	gpgRecipient, gpgSigner string
	gpgKeyrings             []string
	port, sourcePort        uint16
	randPort                bool
	proto                   string
	tcp                     bool
	spoofSource, userAgent  string
	icmpType, icmpCode      uint8
	fwTimeout               int
	timeOffset              string
	timePlus, timeMinus     string
	nat                     string
	natLocal, natRand       bool
	natPort                 uint16
	command                 string
	user                    string
}

// spaFlagAliases are earlier knock names and fwknop's short forms of the
// issue text, read as the flag they stand for.
var spaFlagAliases = map[string]string{
	"spa-port":      "server-port",
	"user":          "spoof-user",
	"gpg-recipient": "gpg-recipient-key",
	"gpg-signer":    "gpg-signer-key",
}

func (sf *spaFlags) register(c *cobra.Command) {
	f := c.Flags()
	f.SortFlags = false
	// What is asked.
	f.StringSliceVarP(&sf.access, "access", "A", nil, "ports to open, proto/port (tcp/22,udp/53)")
	f.StringVarP(&sf.allowIP, "allow-ip", "a", "", "IPv4 address to open the firewall for; source (the packet's source address, the default) or resolve (ask --resolve-url)")
	f.BoolVarP(&sf.sourceIP, "source-ip", "s", false, "same as --allow-ip source")
	f.BoolVarP(&sf.resolveIP, "resolve-ip-https", "R", false, "same as --allow-ip resolve")
	f.StringVar(&sf.resolveURL, "resolve-url", "", "URL answering your external address, for --allow-ip resolve (default "+spa.DefaultResolveURL+")")
	f.BoolVar(&sf.httpOnly, "resolve-http-only", false, "resolve the external address over plain HTTP")
	f.IntVarP(&sf.fwTimeout, "fw-timeout", "f", 0, "ask fwknopd to keep the port open this many seconds (0: the server's default)")
	f.StringVarP(&sf.nat, "nat-access", "N", "", "ask for NAT access to internalIP[,port] (the port defaults to the --access port)")
	f.BoolVar(&sf.natLocal, "nat-local", false, "ask for NAT access to a port of the server itself")
	f.Uint16Var(&sf.natPort, "nat-port", 0, "the server port fwknopd forwards to the NAT target (default: the --access port)")
	f.BoolVar(&sf.natRand, "nat-rand-port", false, "draw the forwarded server port at random (printed, and waited on)")
	f.StringVarP(&sf.command, "server-cmd", "C", "", "ask fwknopd to run this command (ENABLE_CMD_EXEC) instead of opening ports")
	f.StringVarP(&sf.user, "spoof-user", "U", "", "user name in the packet (default: your login name)")
	f.StringVar(&sf.timeOffset, "time-offset", "", "add this to the packet's timestamp when clocks differ (-30, 2min, -1hour)")
	f.StringVar(&sf.timePlus, "time-offset-plus", "", "add this to the packet's timestamp (60sec, 2min)")
	f.StringVar(&sf.timeMinus, "time-offset-minus", "", "subtract this from the packet's timestamp")
	// Encryption.
	f.StringVar(&sf.keyFile, "key-file", "", "file with KEY_BASE64 and HMAC_KEY_BASE64 lines (mode 600; - for stdin)")
	f.StringVarP(&sf.digest, "digest-type", "m", "", "message digest: "+strings.Join(spa.Digests(), ", ")+" (default sha256)")
	f.StringVar(&sf.hmacDigest, "hmac-digest-type", "", "HMAC digest: "+strings.Join(spa.Digests(), ", ")+" (default sha256)")
	f.StringVarP(&sf.mode, "encryption-mode", "M", "", "Rijndael mode: cbc (default) or legacy (servers before fwknop 2.5; no HMAC)")
	f.BoolVar(&sf.gpg, "gpg-encryption", false, "encrypt with GPG (implied by --gpg-recipient-key)")
	f.StringVar(&sf.gpgRecipient, "gpg-recipient-key", "", "the server's GPG key: key ID, fingerprint or user ID")
	f.StringVar(&sf.gpgSigner, "gpg-signer-key", "", "your GPG key that signs the packet")
	f.StringSliceVar(&sf.gpgKeyrings, "gpg-keyring", nil, "`FILE` of exported GPG keys: gpg --export RECIPIENT and gpg --export-secret-keys SIGNER (mode 600 with a secret key); repeatable")
	f.BoolVar(&sf.gpgNoPW, "gpg-no-signing-pw", false, "the signer's key has no passphrase (else it comes from $"+envGPGPW+")")
	// Transport.
	f.StringVarP(&sf.proto, "server-proto", "P", "", "transport: "+strings.Join(spa.Protos(), ", ")+" (udpraw, tcpraw and icmp need root; default udp)")
	f.Uint16VarP(&sf.port, "server-port", "p", 0, "server port of fwknopd (default 62201)")
	f.BoolVarP(&sf.randPort, "rand-port", "r", false, "send to a random server port, a new one per packet")
	f.Uint16VarP(&sf.sourcePort, "source-port", "S", 0, "source port of the packet")
	f.StringVarP(&sf.spoofSource, "spoof-source", "Q", "", "spoofed source IPv4 address (udpraw, tcpraw or icmp)")
	f.StringVarP(&sf.userAgent, "user-agent", "u", "", "HTTP User-Agent of -P http and of resolving (default "+spa.DefaultUserAgent+")")
	f.Uint8Var(&sf.icmpType, "icmp-type", 0, "ICMP type with -P icmp (default 0, echo reply)")
	f.Uint8Var(&sf.icmpCode, "icmp-code", 0, "ICMP code with -P icmp")
	f.BoolVar(&sf.tcp, "tcp", false, "same as --server-proto tcp")
	_ = f.MarkDeprecated("tcp", "use --server-proto tcp")
	f.SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if to, ok := spaFlagAliases[name]; ok {
			name = to
		}
		return pflag.NormalizedName(name)
	})
	complete := func(name string, values []string) {
		_ = c.RegisterFlagCompletionFunc(name, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
	}
	complete("digest-type", spa.Digests())
	complete("hmac-digest-type", spa.Digests())
	complete("encryption-mode", []string{"cbc", "legacy"})
	complete("server-proto", spa.Protos())
	complete("allow-ip", []string{"source", "resolve"})
}

// spaExclusive are flags that exclude each other.
var spaExclusive = [][]string{
	{"access", "server-cmd"},
	{"allow-ip", "source-ip", "resolve-ip-https"},
	{"server-port", "rand-port"},
	{"nat-port", "nat-rand-port"},
	{"time-offset", "time-offset-plus", "time-offset-minus"},
	{"tcp", "server-proto"},
}

// options reads the keys and checks the flags.
func (sf *spaFlags) options(c *cobra.Command) (spa.Options, error) {
	ch := c.Flags().Changed
	for _, group := range spaExclusive {
		var set []string
		for _, name := range group {
			if ch(name) {
				set = append(set, "--"+name)
			}
		}
		if len(set) > 1 {
			return spa.Options{}, usagef("%s exclude each other", strings.Join(set, " and "))
		}
	}
	if !ch("access") && !ch("server-cmd") {
		return spa.Options{}, usagef("nothing asked: give --access PROTO/PORT (such as tcp/22) or --server-cmd CMD")
	}
	o := spa.Options{
		Access:      sf.access,
		AllowIP:     sf.allowIP,
		ResolveURL:  sf.resolveURL,
		HTTPOnly:    sf.httpOnly,
		FWTimeout:   sf.fwTimeout,
		NAT:         sf.nat,
		NATLocal:    sf.natLocal,
		NATPort:     sf.natPort,
		NATRand:     sf.natRand,
		Command:     sf.command,
		User:        sf.user,
		Proto:       sf.proto,
		Port:        sf.port,
		RandPort:    sf.randPort,
		SourcePort:  sf.sourcePort,
		SpoofSource: sf.spoofSource,
		UserAgent:   sf.userAgent,
		ICMPType:    sf.icmpType,
		ICMPCode:    sf.icmpCode,
	}
	switch {
	case sf.sourceIP:
		o.AllowIP = "source"
	case sf.resolveIP:
		o.AllowIP = spa.AllowResolve
	case !ch("allow-ip") && (sf.resolveURL != "" || sf.httpOnly):
		// As fwknop's client: a resolve URL asks for resolving.
		o.AllowIP = spa.AllowResolve
	}
	if sf.tcp {
		o.Proto = string(spa.TCP)
	}
	var err error
	if o.Digest, err = spa.ParseDigest(sf.digest); err != nil {
		return o, asUsage(err)
	}
	for _, t := range []struct {
		flag string
		s    *string
		sign int
	}{{"time-offset", &sf.timeOffset, 1}, {"time-offset-plus", &sf.timePlus, 1}, {"time-offset-minus", &sf.timeMinus, -1}} {
		if *t.s == "" {
			continue
		}
		d, err := fwknoprc.ParseOffset(*t.s)
		if err != nil {
			return o, usagef("--%s: %v", t.flag, err)
		}
		if t.sign < 0 {
			d = -d
		}
		o.TimeOffset += d
	}
	gpg := sf.gpg || sf.gpgRecipient != ""
	if sf.gpg && sf.gpgRecipient == "" {
		return o, usagef("--gpg-encryption needs --gpg-recipient-key, the server's key")
	}
	if o.Keys, err = loadSPAKeys(sf.keyFile, gpg); err != nil {
		return o, err
	}
	if o.Keys.HMACDigest, err = spa.ParseDigest(sf.hmacDigest); err != nil {
		return o, usagef("--hmac-digest-type: %v", err)
	}
	if o.Keys.Mode, err = spa.ParseMode(sf.mode); err != nil {
		return o, asUsage(err)
	}
	if gpg {
		if o.GPG, err = sf.gpgOptions(); err != nil {
			return o, err
		}
	} else if sf.gpgSigner != "" || len(sf.gpgKeyrings) > 0 {
		return o, usagef("--gpg-signer-key and --gpg-keyring need --gpg-recipient-key, the server's key")
	}
	return o, nil
}

// gpgOptions reads the keyrings and keeps only the two keys used; the
// signing passphrase comes from the environment.
func (sf *spaFlags) gpgOptions() (*spa.GPGOptions, error) {
	if len(sf.gpgKeyrings) == 0 {
		return nil, usagef("GPG needs --gpg-keyring FILE with the exported keys (knock reads no GnuPG home): gpg --export %s > keys.asc; gpg --export-secret-keys SIGNER >> keys.asc; chmod 600 keys.asc", sf.gpgRecipient)
	}
	ring, err := readGPGKeyrings(sf.gpgKeyrings)
	if err != nil {
		return nil, err
	}
	exported, err := ring.Export(sf.gpgRecipient, sf.gpgSigner)
	if err != nil {
		return nil, asUsage(err)
	}
	g := &spa.GPGOptions{Recipient: sf.gpgRecipient, Signer: sf.gpgSigner, Keyring: exported}
	if pw := os.Getenv(envGPGPW); pw != "" && !sf.gpgNoPW {
		g.SigningPW = []byte(pw)
	}
	return g, nil
}

func (a *app) newSPASendCmd() *cobra.Command {
	kf := &knockFlags{}
	sf := &spaFlags{}
	c := &cobra.Command{
		Use:   "send HOST (--access tcp/22 | --server-cmd CMD) [--key-file FILE] [flags]",
		Short: "send one SPA packet (keys from --key-file or the environment)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := sf.options(cmd)
			if err != nil {
				return err
			}
			opts, err := a.options(kf)
			if err != nil {
				return err
			}
			opts.Out, opts.Log = cmd.OutOrStdout(), cmd.ErrOrStderr()
			d, err := door.AdhocSPA(cmd.Context(), args[0], o, opts)
			if err != nil {
				return err
			}
			_, err = d.Open(cmd.Context())
			return err
		},
	}
	sf.register(c)
	kf.registerVerify(c, 3)
	return c
}

func newSPAAddCmd() *cobra.Command {
	sf := &spaFlags{}
	var host, store string
	var waitPort uint16
	c := &cobra.Command{
		Use:   "add NAME --host HOST (--access tcp/22 | --server-cmd CMD) [--key-file FILE] [flags]",
		Short: "save an SPA profile (keys from --key-file or the environment)",
		Args:  oneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkProfileName(cmd, args[0]); err != nil {
				return err
			}
			o, err := sf.options(cmd)
			if err != nil {
				return err
			}
			c, err := spa.NewClient(o)
			if err != nil {
				return err
			}
			// fwknopd 2.6 sniffs IPv4 only: knock, ssh and proxy use IPv4.
			p := &profiles.Profile{Name: args[0], Kind: profiles.KindSPA, Host: host, Family: "inet", SPA: profiles.NewSPAConfig(o), WaitPort: waitPort}
			if !cmd.Flags().Changed("wait-port") && !c.RandomNAT() {
				p.WaitPort = c.WaitPort()
			}
			if err := p.Normalize(); err != nil {
				return err
			}
			return addProfile(p, store)
		},
	}
	sf.register(c)
	f := c.Flags()
	f.StringVar(&host, "host", "", "server to send to (default: the name, through ssh_config)")
	f.Uint16Var(&waitPort, "wait-port", 0, "TCP port that proves the door opened (default: the first tcp port of --access, or the forwarded NAT port; 0 for none)")
	f.StringVar(&store, "store", "", "keyring or file (default keyring, else file)")
	return c
}

// readGPGKeyrings reads exported GPG keys from files ("-" is stdin); nil
// for none.
func readGPGKeyrings(paths []string) (*spa.GPGKeyring, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	var rs []io.Reader
	for _, path := range paths {
		b, err := spa.LoadGPGKeyring(path, os.Stdin)
		if err != nil {
			return nil, err
		}
		rs = append(rs, bytes.NewReader(b))
	}
	ring, err := spa.ReadGPGKeyring(rs...)
	return ring, asUsage(err)
}

// loadSPAKeys reads keys from path ("-" is stdin), else the environment.
// With GPG only an HMAC key is read, and none is needed.
func loadSPAKeys(path string, gpg bool) (spa.Keys, error) {
	if path != "" {
		return spa.LoadKeyFile(path, os.Stdin, gpg)
	}
	k, h := os.Getenv(envSPAKey), os.Getenv(envSPAHMACKey)
	if gpg {
		if h == "" {
			return spa.Keys{}, nil
		}
		b, err := spa.DecodeKey("HMAC_KEY_BASE64", h)
		return spa.Keys{HMAC: b}, asUsage(err)
	}
	if k == "" {
		return spa.Keys{}, usagef("no SPA key: give --key-file FILE (see knock spa keygen) or set %s and %s", envSPAKey, envSPAHMACKey)
	}
	keys, err := spa.ParseKeys(k, h)
	return keys, asUsage(err)
}
