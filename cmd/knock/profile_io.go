package main

// knock profile export and knock profile import.

import (
	"fmt"
	"os"
	"runtime"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/a-knock/knock/internal/fwknoprc"
	"github.com/a-knock/knock/internal/profiles"
	"github.com/a-knock/knock/internal/safeio"
)

func newProfileExportCmd() *cobra.Command {
	var out string
	c := &cobra.Command{
		Use:   "export [NAME...] [-o FILE]",
		Short: "Write profiles, secrets included, as JSON (for import on another machine)",
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return profileNames(), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" && term.IsTerminal(int(os.Stdout.Fd())) {
				return usagef("export prints secrets; give -o FILE or redirect stdout")
			}
			st, err := openStores()
			if err != nil {
				return err
			}
			names := args
			if len(names) == 0 {
				es, err := st.List()
				if err != nil {
					return err
				}
				for _, e := range es {
					names = append(names, e.Name)
				}
			}
			var ps []*profiles.Profile
			for _, n := range names {
				p, _, err := st.Get(n)
				if err != nil {
					return err
				}
				ps = append(ps, p)
			}
			b, err := profiles.EncodeList(ps)
			if err != nil {
				return err
			}
			if out != "" {
				if err := profiles.WriteSecretFile(out, b); err != nil {
					return err
				}
				noticef("exported %d profile(s) to %s", len(ps), out)
				return nil
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
	c.Flags().StringVarP(&out, "output", "o", "", "write to `FILE` (mode 0600)")
	return c
}

func newProfileImportCmd() *cobra.Command {
	var host, store, as string
	var only, gpgKeyrings []string
	var replace, dryRun bool
	c := &cobra.Command{
		Use:   "import FILE [--host H] [--only NAME]... [--as NAME]",
		Short: "Import profiles from knockd.conf, an fwknop .fwknoprc or a knock export",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("want one FILE to import (- for stdin), got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if as != "" {
				if err := checkProfileName(cmd, as); err != nil {
					return err
				}
			}
			ring, err := fwknoprc.ReadGPGKeyrings(gpgKeyrings, os.Stdin)
			if err != nil {
				return err
			}
			data, err := safeio.ReadInput(args[0], os.Stdin, safeio.StoreLimit)
			if err != nil {
				return asUsage(err)
			}
			res, err := profiles.Import(args[0], data, profiles.ImportOptions{Host: host, Only: only, As: as, GPGKeyring: ring})
			if err != nil {
				return asUsage(err)
			}
			for _, w := range res.Warnings {
				warnf("%s", w)
			}
			warnLoose(args[0], res.Format)
			if len(res.Profiles) == 0 {
				return usagef("%s: no profile to import", args[0])
			}
			for _, p := range res.Profiles {
				if sub := subcommandNamed(cmd.Root(), p.Name); sub != "" {
					return usagef("%s: profile name %q is a knock subcommand: knock %s would run the %s subcommand instead of knocking; import it under another name: knock profile import %s --only %s --as %s-door", args[0], p.Name, p.Name, sub, args[0], p.Name, p.Name)
				}
			}
			if dryRun {
				for _, p := range res.Profiles {
					fmt.Printf("%s\t%s\n", p.Name, describeImport(p))
				}
				return nil
			}
			return importProfiles(res, store, replace)
		},
	}
	f := c.Flags()
	f.StringVar(&host, "host", "", "host for every imported profile (default: the file's, else the name through ssh_config)")
	f.StringSliceVar(&only, "only", nil, "import only this door or stanza (repeatable)")
	f.StringVar(&as, "as", "", "name of the one imported profile (with several doors or stanzas, pick one with --only)")
	f.StringSliceVar(&gpgKeyrings, "gpg-keyring", nil, "`FILE` of exported GPG keys for .fwknoprc stanzas with USE_GPG (repeatable)")
	f.StringVar(&store, "store", "", "keyring or file (default keyring, else file)")
	f.BoolVar(&replace, "replace", false, "replace profiles of the same name")
	f.BoolVar(&dryRun, "dry-run", false, "list what would be imported (names only), save nothing")
	f.SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if name == "name" { // the name for --as
			name = "as"
		}
		return pflag.NormalizedName(name)
	})
	return c
}

// warnLoose warns, as fwknop does for its rc file, when a file holding
// keys can be read by group or others.
func warnLoose(path, format string) {
	if format != "fwknoprc" && format != "knock export" || path == "-" || runtime.GOOS == "windows" {
		return
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		warnf("%s can be read by group or others (mode %04o) and holds keys: chmod 600 %s", path, st.Mode().Perm(), path)
	}
}

func describeImport(p *profiles.Profile) string {
	what := "open"
	if p.Close != "" {
		what = "open+close"
	}
	if p.EffectiveKind() != profiles.KindSequence {
		what = string(p.EffectiveKind())
	}
	return what
}

// importProfiles saves what an import found, checking every name before
// writing any, so that a duplicate stops the import with nothing written.
func importProfiles(res *profiles.ImportResult, storeFlag string, replace bool) error {
	st, to, err := chooseStore(storeFlag)
	if err != nil {
		return err
	}
	if err := st.AddAll(res.Profiles, to, replace); err != nil {
		return err
	}
	for _, p := range res.Profiles {
		noticef("imported profile %q (%s) into the %s store", p.Name, describeImport(p), to)
	}
	return nil
}
