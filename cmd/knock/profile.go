package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/a-knock/knock/internal/forward"
	"github.com/a-knock/knock/internal/profiles"
	"github.com/a-knock/knock/internal/prompt"
	"github.com/a-knock/knock/internal/seq"
)

func (a *app) newProfileCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "profile",
		Short: "Manage saved profiles (OS keyring or a 0600 file)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	c.AddCommand(newProfileAddCmd(), newProfileListCmd(), newProfileShowCmd(), newProfileEditCmd(),
		newProfileRmCmd(), newProfileExportCmd(), newProfileImportCmd(), a.newProfileServerConfigCmd())
	return c
}

func openStores() (*profiles.Stores, error) { return profiles.Default() }

// checkProfileName refuses a name that cannot name a profile: an invalid
// one, or one equal to a subcommand (or its alias) of the command tree,
// which knock NAME would run instead of knocking.
func checkProfileName(cmd *cobra.Command, name string) error {
	if err := profiles.ValidName(name); err != nil {
		return asUsage(err)
	}
	if sub := subcommandNamed(cmd.Root(), name); sub != "" {
		return usagef("profile name %q is a knock subcommand: knock %s would run the %s subcommand instead of knocking; choose another name, such as %s-door", name, name, sub, name)
	}
	return nil
}

// subcommandNamed returns the name of root's subcommand that name would
// run (its name or an alias, matched as cobra matches them), or "".
func subcommandNamed(root *cobra.Command, name string) string {
	eq := func(a, b string) bool { return a == b || cobra.EnableCaseInsensitive && strings.EqualFold(a, b) }
	for _, sub := range root.Commands() {
		if eq(sub.Name(), name) {
			return sub.Name()
		}
		for _, al := range sub.Aliases {
			if eq(al, name) {
				return sub.Name()
			}
		}
	}
	return ""
}

func oneName(_ *cobra.Command, args []string) error {
	if len(args) != 1 {
		return usagef("want one profile NAME, got %d arguments", len(args))
	}
	return nil
}

// profileFields are the flags add and edit share.
type profileFields struct {
	host, open, close, tcpFlags, method, family, notes, store string
	delay, seqTimeout                                         int
	waitPort                                                  uint16
	udp, ipv4, ipv6                                           bool
	forwards                                                  []string
}

func (pf *profileFields) register(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&pf.host, "host", "", "host to knock (default: the name, through ~/.ssh/config)")
	f.StringVar(&pf.open, "open", "", "open `SEQ`uence in knockd syntax (7000,8000:udp,9000); - reads it from stdin")
	f.StringVar(&pf.close, "close", "", "close `SEQ`uence; - reads it from stdin")
	f.BoolVarP(&pf.udp, "udp", "u", false, "knocks without a protocol are udp")
	f.IntVarP(&pf.delay, "delay", "d", 0, "milliseconds between knocks")
	f.StringVar(&pf.tcpFlags, "tcp-flags", "", "TCP flags, knockd's TCPFlags syntax (syn, fin,!ack)")
	f.StringVar(&pf.method, "method", "", "TCP knock method: auto, connect or raw")
	f.StringVar(&pf.family, "family", "", "address family: any, inet or inet6")
	f.BoolVarP(&pf.ipv4, "ipv4", "4", false, "same as --family inet")
	f.BoolVarP(&pf.ipv6, "ipv6", "6", false, "same as --family inet6")
	f.Uint16Var(&pf.waitPort, "wait-port", 0, "TCP `PORT` that proves the door opened (default: the ssh Port of a Host entry)")
	f.IntVar(&pf.seqTimeout, "seq-timeout", 0, "the door's seq_timeout in seconds (warns when the sequence cannot fit)")
	f.StringVar(&pf.notes, "notes", "", "free text")
	f.StringArrayVar(&pf.forwards, "forward", nil, "a forward for knock forward NAME, `[BIND:]LOCALPORT:REMOTEPORT` (repeatable; replaces the list)")
	f.StringVar(&pf.store, "store", "", "keyring or file (default keyring, else file)")
	c.MarkFlagsMutuallyExclusive("ipv4", "ipv6", "family")
}

func (pf *profileFields) defProto() seq.Proto {
	if pf.udp {
		return seq.UDP
	}
	return seq.TCP
}

// parseSeq parses a sequence flag (given as "-": read from in). The
// error never quotes the sequence.
func (pf *profileFields) parseSeq(what, s string, in *prompt.Reader) (string, error) {
	if s == "-" {
		var err error
		if s, err = in.Line(what + " sequence"); err != nil {
			return "", err
		}
	}
	if strings.TrimSpace(s) == "" {
		return "", nil
	}
	sq, err := seq.Parse(pf.defProto(), s)
	if err != nil {
		// The message describes the problem without quoting the secret.
		return "", usagef("invalid %s sequence (want PORT[:tcp|udp],... with ports 1..65535, at most %d knocks)", what, seq.MaxKnocks)
	}
	return sq.String(), nil
}

// readDashes replaces --open - and --close - by lines read from in.
func (pf *profileFields) readDashes(c *cobra.Command, in *prompt.Reader) error {
	for _, f := range []struct {
		name string
		v    *string
	}{{"open", &pf.open}, {"close", &pf.close}} {
		if c.Flags().Changed(f.name) && *f.v == "-" {
			l, err := in.Line(f.name + " sequence")
			if err != nil {
				return err
			}
			*f.v = l
		}
	}
	return nil
}

// apply sets the fields whose flags were given (all of them for add).
func (pf *profileFields) apply(c *cobra.Command, p *profiles.Profile, in *prompt.Reader) error {
	ch := func(name string) bool { return c.Flags().Changed(name) }
	var err error
	if ch("host") {
		p.Host = pf.host
	}
	if ch("open") {
		if p.Open, err = pf.parseSeq("open", pf.open, in); err != nil {
			return err
		}
		if p.Open == "" {
			return usagef("empty open sequence")
		}
	}
	if ch("close") {
		if p.Close, err = pf.parseSeq("close", pf.close, in); err != nil {
			return err
		}
	}
	if ch("delay") {
		p.DelayMS = pf.delay
	}
	if ch("tcp-flags") {
		p.TCPFlags = pf.tcpFlags
	}
	if ch("method") {
		p.Method = pf.method
	}
	switch {
	case ch("family"):
		p.Family = pf.family
	case pf.ipv4:
		p.Family = "inet"
	case pf.ipv6:
		p.Family = "inet6"
	}
	if ch("wait-port") {
		p.WaitPort = pf.waitPort
	}
	if ch("seq-timeout") {
		p.SeqTimeout = pf.seqTimeout
	}
	if ch("notes") {
		p.Notes = pf.notes
	}
	if ch("forward") {
		p.Forwards = nil
		for _, f := range pf.forwards {
			s, err := forward.ParseSpec(f)
			if err != nil {
				return asUsage(err)
			}
			p.Forwards = append(p.Forwards, s.String())
		}
	}
	return nil
}

func newProfileAddCmd() *cobra.Command {
	pf := &profileFields{}
	gf := &generateFlags{}
	c := &cobra.Command{
		Use:   "add NAME [--host H] [--generate] [flags]",
		Short: "Save a new profile",
		Args:  oneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			p := &profiles.Profile{Name: args[0]}
			if err := checkProfileName(cmd, p.Name); err != nil {
				return err
			}
			generated, err := gf.fill(cmd, p)
			if err != nil {
				return err
			}
			in := &prompt.Reader{}
			if !generated && !cmd.Flags().Changed("open") {
				if err := readSequences(cmd, pf, in); err != nil {
					return err
				}
			}
			if err := pf.apply(cmd, p, in); err != nil {
				return err
			}
			return addProfile(p, pf.store)
		},
	}
	pf.register(c)
	gf.register(c)
	return c
}

// readSequences asks for the open and (optional) close sequences on stdin.
func readSequences(cmd *cobra.Command, pf *profileFields, in *prompt.Reader) error {
	open, err := in.Line("open sequence")
	if err != nil {
		return err
	}
	if open == "" {
		return usagef("no open sequence: type it at the prompt or on stdin, or use --generate")
	}
	pf.open = open
	_ = cmd.Flags().Set("open", open)
	if cmd.Flags().Changed("close") {
		return nil
	}
	cl, err := in.Line("close sequence (empty for none)")
	if err == nil && cl != "" {
		pf.close = cl
		_ = cmd.Flags().Set("close", cl)
	}
	return nil
}

// chooseStore opens the stores and picks the one new profiles go to:
// --store, else the keyring, else (with a one-line notice) the file.
func chooseStore(storeFlag string) (*profiles.Stores, profiles.StoreName, error) {
	st, err := openStores()
	if err != nil {
		return nil, "", err
	}
	want, err := storeArg(storeFlag)
	if err != nil {
		return nil, "", err
	}
	to, notice, err := st.Choose(want)
	if err != nil {
		return nil, "", fmt.Errorf("%w; use --store file", err)
	}
	if notice != "" {
		noticef("%s", notice)
	}
	return st, to, nil
}

func addProfile(p *profiles.Profile, storeFlag string) error {
	to, err := saveProfile(p, storeFlag)
	if err == nil {
		noticef("saved profile %q in the %s store", p.Name, to)
	}
	return err
}

// saveProfile adds p to the store chosen by --store (see chooseStore),
// once p is valid: bad input is one error line, with no notice before it.
func saveProfile(p *profiles.Profile, storeFlag string) (profiles.StoreName, error) {
	if err := p.Normalize(); err != nil {
		return "", err
	}
	st, to, err := chooseStore(storeFlag)
	if err != nil {
		return "", err
	}
	return to, st.Add(p, to)
}

func storeArg(s string) (profiles.StoreName, error) {
	if s == "" {
		return "", nil
	}
	n, err := profiles.ParseStore(s)
	return n, asUsage(err)
}

func newProfileListCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List profiles: names, hosts and stores, never sequences",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := openStores()
			if err != nil {
				return err
			}
			// A locked keyring hides its profiles, not the file store's.
			es, krErr, err := st.ListReadable()
			if err != nil {
				return err
			}
			if krErr != nil {
				warnf("keyring profiles not listed: %v", krErr)
			} else if err := st.KeyringAvailable(); err != nil {
				noticef("keyring not consulted: %v", err)
			}
			if len(es) == 0 {
				noticef("no profiles; add one with knock profile add NAME (it asks for the sequence)")
				return nil
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tHOST\tKIND\tSTORE")
			for _, e := range es {
				host := e.Host
				if host == "" {
					host = "(ssh_config: " + e.Name + ")"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Name, oneLine(host), e.Kind, e.Store)
			}
			return tw.Flush()
		},
	}
}

func newProfileShowCmd() *cobra.Command {
	var reveal bool
	c := &cobra.Command{
		Use:               "show NAME [--reveal]",
		Short:             "Show a profile, secrets redacted unless --reveal",
		Args:              oneName,
		ValidArgsFunction: completeProfileName,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := openStores()
			if err != nil {
				return err
			}
			p, store, err := st.Get(args[0])
			if err != nil {
				return err
			}
			showProfile(cmd.OutOrStdout(), p, store, reveal)
			return nil
		},
	}
	c.Flags().BoolVar(&reveal, "reveal", false, "print sequences and keys")
	return c
}

func showProfile(w io.Writer, p *profiles.Profile, store profiles.StoreName, reveal bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	for _, r := range p.Rows(store, reveal) {
		fmt.Fprintf(tw, "%s:\t%s\n", r.Field, oneLine(r.Value))
	}
	tw.Flush()
}

func newProfileEditCmd() *cobra.Command {
	pf := &profileFields{}
	var noClose bool
	c := &cobra.Command{
		Use:               "edit NAME [flags]",
		Short:             "Change fields of a profile (--store moves it)",
		Args:              oneName,
		ValidArgsFunction: completeProfileName,
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			st, err := openStores()
			if err != nil {
				return err
			}
			changed := false
			cmd.Flags().Visit(func(f *pflag.Flag) {
				if f.Name != "store" {
					changed = true
				}
			})
			if !changed && !cmd.Flags().Changed("store") {
				return usagef("nothing to change; give --open, --close, --host, --wait-port, ... (see knock profile edit --help)")
			}
			if changed {
				// Read "-" values before taking the lock: a prompt may wait.
				in := &prompt.Reader{}
				if err := pf.readDashes(cmd, in); err != nil {
					return err
				}
				err := st.Update(name, func(p *profiles.Profile) error {
					if err := pf.apply(cmd, p, in); err != nil {
						return err
					}
					if noClose {
						p.Close = ""
					}
					return nil
				})
				if err != nil {
					return err
				}
			}
			if cmd.Flags().Changed("store") {
				to, err := storeArg(pf.store)
				if err != nil {
					return err
				}
				if err := st.Move(name, to); err != nil {
					return err
				}
			}
			noticef("updated profile %q", name)
			return nil
		},
	}
	pf.register(c)
	c.Flags().BoolVar(&noClose, "no-close", false, "remove the close sequence")
	c.Flags().Lookup("store").Usage = "move the profile to this store: keyring or file"
	return c
}

func newProfileRmCmd() *cobra.Command {
	return &cobra.Command{
		Use:               "rm NAME...",
		Aliases:           []string{"remove"},
		Short:             "Remove profiles",
		ValidArgsFunction: completeProfileName,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("no profile NAME given")
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error {
			st, err := openStores()
			if err != nil {
				return err
			}
			for _, name := range args {
				store, err := st.Delete(name)
				if err != nil {
					return err
				}
				noticef("removed profile %q from the %s store", name, store)
			}
			return nil
		},
	}
}
