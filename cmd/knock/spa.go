package main

import (
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/a-knock/knock/internal/door"
	"github.com/a-knock/knock/internal/fwknoprc"
	"github.com/a-knock/knock/internal/profiles"
	"github.com/a-knock/knock/internal/spa"
)

// Environment variables that may carry SPA keys for `knock spa send`;
// keys are never taken from the command line, where ps would show them.
const (
	envSPAKey     = "KNOCK_SPA_KEY_BASE64"
	envSPAHMACKey = "KNOCK_SPA_HMAC_KEY_BASE64"
)

func (a *app) newSPACmd() *cobra.Command {
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
	c.AddCommand(newSPAKeygenCmd(), a.newSPASendCmd(), newSPAAddCmd())
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

// spaFlags are the request flags of `knock spa send` and `knock spa add`.
type spaFlags struct {
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

func (sf *spaFlags) register(c *cobra.Command) {
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
	_ = c.MarkFlagRequired("access")
}

// options reads the keys and checks the flags.
func (sf *spaFlags) options() (spa.Options, error) {
	keys, err := loadSPAKeys(sf.keyFile)
	if err != nil {
		return spa.Options{}, err
	}
	o := spa.Options{Access: sf.access, AllowIP: sf.allowIP, Port: sf.port, FWTimeout: sf.fwTimeout, NAT: sf.nat, User: sf.user, Keys: keys}
	if sf.tcp {
		o.Proto = string(spa.TCP)
	}
	if sf.timeOffset != "" {
		if o.TimeOffset, err = fwknoprc.ParseOffset(sf.timeOffset); err != nil {
			return o, asUsage(err)
		}
	}
	return o, nil
}

func (a *app) newSPASendCmd() *cobra.Command {
	kf := &knockFlags{}
	sf := &spaFlags{}
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
			if err := profiles.ValidName(args[0]); err != nil {
				return asUsage(err)
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
			if !cmd.Flags().Changed("wait-port") {
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
	f.Uint16Var(&waitPort, "wait-port", 0, "TCP port that proves the door opened (default: the first tcp port of --access; 0 with --wait-port 0: none)")
	f.StringVar(&store, "store", "", "keyring or file (default keyring, else file)")
	return c
}

// loadSPAKeys reads keys from path ("-" is stdin), else the environment.
func loadSPAKeys(path string) (spa.Keys, error) {
	if path != "" {
		return spa.LoadKeyFile(path, os.Stdin)
	}
	k, h := os.Getenv(envSPAKey), os.Getenv(envSPAHMACKey)
	if k == "" {
		return spa.Keys{}, usagef("no SPA key: give --key-file FILE (see knock spa keygen) or set %s and %s", envSPAKey, envSPAHMACKey)
	}
	keys, err := spa.ParseKeys(k, h)
	return keys, asUsage(err)
}
