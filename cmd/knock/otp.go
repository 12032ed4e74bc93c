package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/a-knock/knock/internal/otp"
	"github.com/a-knock/knock/internal/profiles"
)

// maxServerFileCount bounds `knock otp server-file --count`: a million
// lines of a few dozen bytes each.
const maxServerFileCount = 1000000

func (a *app) newOTPCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "otp",
		Short: "One-time knock sequences for knockd's one_time_sequences",
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown otp subcommand %q (want init, server-file, status or resync)", args[0])
			}
			return usagef("missing subcommand: init, server-file, status or resync (see knock otp --help)")
		},
	}
	c.AddCommand(newOTPInitCmd(), newOTPServerFileCmd(), newOTPStatusCmd(), newOTPResyncCmd())
	return c
}

func newOTPInitCmd() *cobra.Command {
	var (
		host, ports, proto, store, tcpFlags string
		length, delay                       int
		wait                                uint16
	)
	c := &cobra.Command{
		Use:   "init NAME",
		Short: "Create a one-time profile: a random secret and a counter",
		Args:  otpArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := checkProfileName(cmd, name); err != nil {
				return err
			}
			cfg, err := profiles.NewOTPConfig(length, ports, proto)
			if err != nil {
				return err
			}
			prof := &profiles.Profile{Name: name, Kind: profiles.KindOTP, Host: host, TCPFlags: tcpFlags, DelayMS: delay, WaitPort: wait, OTP: cfg}
			to, err := saveProfile(prof, store)
			if err != nil {
				return err
			}
			noticef("created one-time profile %q in the %s store (counter 0, %d knocks on ports %s, %s)",
				name, to, cfg.Length, otp.FormatPortRange(cfg.PortLo, cfg.PortHi), cfg.Proto)
			hintf("next: knock otp server-file %s --count 1000 > FILE, and one_time_sequences = FILE in the server's door", name)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&host, "host", "", "address or name to knock (default: the name, through ~/.ssh/config)")
	f.IntVar(&length, "length", otp.DefaultLength, "knocks per sequence (1..32)")
	f.StringVar(&ports, "ports", otp.FormatPortRange(otp.DefaultPortLo, otp.DefaultPortHi), "port range `LO-HI` of the knocks")
	f.StringVar(&proto, "proto", string(otp.DefaultMode), "protocol of the knocks: tcp, udp or mixed")
	f.StringVar(&store, "store", "", "where to keep the profile: keyring or file (default keyring, else file)")
	f.Uint16Var(&wait, "wait", 0, "TCP `PORT` that opens after a knock: the counter then advances only once it did")
	f.StringVar(&tcpFlags, "tcp-flags", "", "the door's TCPFlags (syn, fin,!ack, ...)")
	f.IntVar(&delay, "delay", 0, "milliseconds between knocks")
	return c
}

func newOTPServerFileCmd() *cobra.Command {
	var count, from uint64
	c := &cobra.Command{
		Use:   "server-file NAME --count N [--from K]",
		Short: "Print sequences for knockd's one_time_sequences file",
		Args:  otpArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("count") {
				return usagef("missing --count N: how many sequences to print")
			}
			if count < 1 || count > maxServerFileCount {
				return usagef("invalid --count %d (want 1..%d)", count, maxServerFileCount)
			}
			p, cfg, err := loadOTP(args[0])
			if err != nil {
				return err
			}
			params, err := otpParams(p.Name, cfg)
			if err != nil {
				return err
			}
			start := cfg.Counter
			if cmd.Flags().Changed("from") {
				start = from
			}
			if err := otp.WriteServerFile(os.Stdout, cfg.Secret, params, start, count); err != nil {
				if errors.Is(err, otp.ErrParams) {
					return asUsage(err)
				}
				return fmt.Errorf("profile %q: %w", p.Name, err)
			}
			return nil
		},
		ValidArgsFunction: completeProfileName,
	}
	c.Flags().Uint64Var(&count, "count", 0, "how many sequences to print (required)")
	c.Flags().Uint64Var(&from, "from", 0, "number of the first sequence (default: the current counter)")
	return c
}

func newOTPStatusCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "status NAME",
		Short: "Show a one-time profile's counter and parameters",
		Args:  otpArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, cfg, err := loadOTP(args[0])
			if err != nil {
				return err
			}
			host := p.Host
			if host == "" {
				host = p.Name + " (through ~/.ssh/config)"
			}
			wait := "none (the counter advances once a sequence is sent)"
			if p.WaitPort != 0 {
				wait = "tcp/" + strconv.Itoa(int(p.WaitPort)) + " (the counter advances once it opens)"
			}
			mode, _ := otp.ParseMode(cfg.Proto)
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "profile  %s\n", p.Name)
			fmt.Fprintf(w, "host     %s\n", host)
			fmt.Fprintf(w, "counter  %d\n", cfg.Counter)
			fmt.Fprintf(w, "length   %d\n", cfg.Length)
			fmt.Fprintf(w, "ports    %s\n", otp.FormatPortRange(cfg.PortLo, cfg.PortHi))
			fmt.Fprintf(w, "proto    %s\n", mode)
			fmt.Fprintf(w, "wait     %s\n", wait)
			return nil
		},
		ValidArgsFunction: completeProfileName,
	}
	return c
}

func newOTPResyncCmd() *cobra.Command {
	var counter uint64
	c := &cobra.Command{
		Use:   "resync NAME --counter K",
		Short: "Set a one-time profile's counter",
		Args:  otpArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if !cmd.Flags().Changed("counter") {
				return usagef("missing --counter K: the number of the next sequence to play")
			}
			if counter == ^uint64(0) {
				return usagef("invalid --counter %d: the last counter has no sequence after it (want 0..%d)", counter, counter-1)
			}
			if _, _, err := loadOTP(name); err != nil {
				return err
			}
			st, err := profiles.Default()
			if err != nil {
				return err
			}
			var old uint64
			err = st.Update(name, func(p *profiles.Profile) error {
				cfg, err := profiles.OTPConfigOf(p)
				if err != nil {
					return err
				}
				old, cfg.Counter = cfg.Counter, counter
				return nil
			})
			if err != nil {
				return err
			}
			noticef("counter of %q set to %d (was %d)", name, counter, old)
			if counter < old {
				warnf("moved back: sequences from %d on were sent before, and anyone who saw them can use them while the server still accepts them", counter)
			}
			return nil
		},
		ValidArgsFunction: completeProfileName,
	}
	c.Flags().Uint64Var(&counter, "counter", 0, "the number of the next sequence to play (required)")
	return c
}

// otpArgs is cobra.ExactArgs with a usage error naming what is missing.
func otpArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("want %s, got %d argument(s)", what, len(args))
		}
		return nil
	}
}

// loadOTP reads the one-time profile called name.
func loadOTP(name string) (*profiles.Profile, *profiles.OTPConfig, error) {
	st, err := profiles.Default()
	if err != nil {
		return nil, nil, err
	}
	p, _, err := st.Get(name)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := profiles.OTPConfigOf(p)
	if err != nil {
		return nil, nil, err
	}
	return p, cfg, nil
}

// otpParams checks a stored configuration.
func otpParams(name string, cfg *profiles.OTPConfig) (otp.Params, error) {
	p, err := cfg.Params()
	if err != nil {
		return p, fmt.Errorf("profile %q: %w", name, err)
	}
	return p, nil
}
