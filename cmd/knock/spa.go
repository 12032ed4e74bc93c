package main

import (
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
// named as fwknop's client names them; fwknoprc.Args checks them.
type spaFlags struct{ fwknoprc.Args }

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
	f.StringSliceVarP(&sf.Access, "access", "A", nil, "ports to open, proto/port (tcp/22,udp/53)")
	f.StringVarP(&sf.AllowIP, "allow-ip", "a", "", "IPv4 address to open the firewall for; source (the packet's source address, the default) or resolve (ask --resolve-url)")
	f.BoolVarP(&sf.SourceIP, "source-ip", "s", false, "same as --allow-ip source")
	f.BoolVarP(&sf.ResolveIP, "resolve-ip-https", "R", false, "same as --allow-ip resolve")
	f.StringVar(&sf.ResolveURL, "resolve-url", "", "URL answering your external address, for --allow-ip resolve (default "+spa.DefaultResolveURL+")")
	f.BoolVar(&sf.HTTPOnly, "resolve-http-only", false, "resolve the external address over plain HTTP")
	f.IntVarP(&sf.FWTimeout, "fw-timeout", "f", 0, "ask fwknopd to keep the port open this many seconds (0: the server's default)")
	f.StringVarP(&sf.NAT, "nat-access", "N", "", "ask for NAT access to internalIP[,port] (the port defaults to the --access port)")
	f.BoolVar(&sf.NATLocal, "nat-local", false, "ask for NAT access to a port of the server itself")
	f.Uint16Var(&sf.NATPort, "nat-port", 0, "the server port fwknopd forwards to the NAT target (default: the --access port)")
	f.BoolVar(&sf.NATRand, "nat-rand-port", false, "draw the forwarded server port at random (printed, and waited on)")
	f.StringVarP(&sf.Command, "server-cmd", "C", "", "ask fwknopd to run this command (ENABLE_CMD_EXEC) instead of opening ports")
	f.StringVarP(&sf.User, "spoof-user", "U", "", "user name in the packet (default: your login name)")
	f.StringVar(&sf.TimeOffset, "time-offset", "", "add this to the packet's timestamp when clocks differ (-30, 2min, -1hour)")
	f.StringVar(&sf.TimePlus, "time-offset-plus", "", "add this to the packet's timestamp (60sec, 2min)")
	f.StringVar(&sf.TimeMinus, "time-offset-minus", "", "subtract this from the packet's timestamp")
	// Encryption.
	f.StringVar(&sf.KeyFile, "key-file", "", "file with KEY_BASE64 and HMAC_KEY_BASE64 lines (mode 600; - for stdin)")
	f.StringVarP(&sf.Digest, "digest-type", "m", "", "message digest: "+strings.Join(spa.Digests(), ", ")+" (default sha256)")
	f.StringVar(&sf.HMACDigest, "hmac-digest-type", "", "HMAC digest: "+strings.Join(spa.Digests(), ", ")+" (default sha256)")
	f.StringVarP(&sf.Mode, "encryption-mode", "M", "", "Rijndael mode: cbc (default) or legacy (servers before fwknop 2.5; no HMAC)")
	f.BoolVar(&sf.GPG, "gpg-encryption", false, "encrypt with GPG (implied by --gpg-recipient-key)")
	f.StringVar(&sf.GPGRecipient, "gpg-recipient-key", "", "the server's GPG key: key ID, fingerprint or user ID")
	f.StringVar(&sf.GPGSigner, "gpg-signer-key", "", "your GPG key that signs the packet")
	f.StringSliceVar(&sf.GPGKeyrings, "gpg-keyring", nil, "`FILE` of exported GPG keys: gpg --export RECIPIENT and gpg --export-secret-keys SIGNER (mode 600 with a secret key); repeatable")
	f.BoolVar(&sf.GPGNoPW, "gpg-no-signing-pw", false, "the signer's key has no passphrase (else it comes from $"+envGPGPW+")")
	// Transport.
	f.StringVarP(&sf.Proto, "server-proto", "P", "", "transport: "+strings.Join(spa.Protos(), ", ")+" (udpraw, tcpraw and icmp need root; default udp)")
	f.Uint16VarP(&sf.Port, "server-port", "p", 0, "server port of fwknopd (default 62201)")
	f.BoolVarP(&sf.RandPort, "rand-port", "r", false, "send to a random server port, a new one per packet")
	f.Uint16VarP(&sf.SourcePort, "source-port", "S", 0, "source port of the packet")
	f.StringVarP(&sf.SpoofSource, "spoof-source", "Q", "", "spoofed source IPv4 address (udpraw, tcpraw or icmp)")
	f.StringVarP(&sf.UserAgent, "user-agent", "u", "", "HTTP User-Agent of -P http and of resolving (default "+spa.DefaultUserAgent+")")
	f.Uint8Var(&sf.ICMPType, "icmp-type", 0, "ICMP type with -P icmp (default 0, echo reply)")
	f.Uint8Var(&sf.ICMPCode, "icmp-code", 0, "ICMP code with -P icmp")
	f.BoolVar(&sf.TCP, "tcp", false, "same as --server-proto tcp")
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

// options reads the keys (from the key file, else the environment, never
// argv) and checks the flags.
func (sf *spaFlags) options() (spa.Options, error) {
	args := sf.Args
	args.KeyB64, args.HMACKeyB64 = os.Getenv(envSPAKey), os.Getenv(envSPAHMACKey)
	args.KeyVars = envSPAKey + " and " + envSPAHMACKey
	args.GPGPassphrase = os.Getenv(envGPGPW)
	args.Stdin = os.Stdin
	return args.Options()
}

func (a *app) newSPASendCmd() *cobra.Command {
	kf := &knockFlags{}
	sf := &spaFlags{}
	c := &cobra.Command{
		Use:   "send HOST (--access tcp/22 | --server-cmd CMD) [--key-file FILE] [flags]",
		Short: "send one SPA packet (keys from --key-file or the environment)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := sf.options()
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
			o, err := sf.options()
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
