package profiles

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/a-knock/knock/internal/fwknoprc"
	"github.com/a-knock/knock/internal/spa"
)

// importFwknoprc turns each named stanza of an fwknoprc into an SPA
// profile, resolved as fwknop's client resolves `-n NAME`: [default]
// first, then the stanza, line by line. A file with [default] alone (what
// fwknop uses without -n) becomes one profile named after the file. A
// stanza whose packet knock cannot send as fwknop would (an unknown
// variable, a missing key, GPG keys it cannot read) is not imported, and
// a warning names each line at fault with file:line; settings that
// change nothing in the packet are warned about once. Malformed values
// fail the import with file:line; no message holds a key.
func importFwknoprc(file string, data []byte, opt ImportOptions) ([]*Profile, []string, error) {
	f, err := fwknoprc.Parse(file, bytes.NewReader(data))
	if err != nil {
		return nil, nil, err
	}
	ring := opt.GPGKeyring
	type stanza struct {
		name, profile string
		line          int
	}
	var todo []stanza
	used := map[string]bool{}
	for _, st := range f.Named {
		todo = append(todo, stanza{st.Name, spaProfileName(st.Name, used), st.Line})
		used[todo[len(todo)-1].profile] = true
	}
	if len(todo) == 0 && f.Default != nil {
		// fwknop without -n: [default] alone, named after the file.
		todo = append(todo, stanza{fwknoprc.DefaultStanza, spaProfileName(rcBaseName(file), used), f.Default.Line})
	}
	im := &rcImport{file: file, ring: ring, warned: map[int]bool{}}
	var ps []*Profile
	for _, st := range todo {
		if !opt.selected(st.name, st.profile) {
			continue
		}
		c, err := f.Resolve(st.name)
		if err != nil {
			return nil, nil, err
		}
		p, err := im.stanza(st.name, st.line, st.profile, c)
		if err != nil {
			return nil, nil, err
		}
		if p != nil {
			ps = append(ps, p)
		}
	}
	if len(todo) == 0 {
		im.warns = append(im.warns, fmt.Sprintf("%s: no stanzas", file))
	}
	return ps, im.warns, nil
}

// rcBaseName is the file's name without directories and a leading dot:
// "fwknoprc" for ~/.fwknoprc and for standard input.
func rcBaseName(file string) string {
	if file == "-" || file == "" {
		return "fwknoprc"
	}
	return strings.TrimLeft(filepath.Base(file), ".")
}

// rcImport is one fwknoprc import in progress.
type rcImport struct {
	file   string
	ring   *spa.GPGKeyring
	warns  []string
	warned map[int]bool // lines warned about: [default] lines show up in every stanza
}

func (im *rcImport) warn(line int, format string, args ...any) {
	if im.warned[line] {
		return
	}
	im.warned[line] = true
	im.warns = append(im.warns, fmt.Sprintf("%s:%d: ", im.file, line)+fmt.Sprintf(format, args...))
}

// stanza converts one resolved stanza. It returns nil and a warning when
// the stanza cannot be imported as fwknop would send it, and an error
// naming file:line for a malformed value.
func (im *rcImport) stanza(name string, line int, profile string, c *fwknoprc.Config) (*Profile, error) {
	skip := func(at int, format string, args ...any) (*Profile, error) {
		im.warns = append(im.warns, fmt.Sprintf("%s:%d: stanza [%s]: %s; not imported", im.file, at, name, fmt.Sprintf(format, args...)))
		return nil, nil
	}
	bad := func(err error) error {
		at := line
		var ve *fwknoprc.VarError
		if errors.As(err, &ve) && ve.Line != 0 {
			at, err = ve.Line, ve.Err
		}
		return fmt.Errorf("%s:%d: stanza [%s]: %w", im.file, at, name, err)
	}
	lineOf := func(v string) int {
		if l, ok := c.Lines[v]; ok {
			return l
		}
		return line
	}
	fatal := false
	for _, is := range c.Issues {
		if is.Fatal {
			fatal = true
			im.warns = append(im.warns, fmt.Sprintf("%s:%d: %s: %s; stanza [%s] not imported", im.file, is.Line, is.Name, is.Reason, name))
		} else {
			im.warn(is.Line, "%s: %s", is.Name, is.Reason)
		}
	}
	if fatal {
		return nil, nil
	}
	if c.Access == "" {
		return skip(line, "no ACCESS (such as tcp/22)")
	}
	o, err := c.Options()
	if errors.Is(err, fwknoprc.ErrNoKey) {
		return skip(line, "%v (knock needs the keys in the stanza)", err)
	}
	if err != nil {
		return nil, bad(err)
	}
	if c.UseGPG {
		if im.ring == nil {
			export := "gpg --export " + shellWord(c.GPGRecipient) + " > keys.asc"
			if c.GPGSigner != "" {
				export += "; gpg --export-secret-keys " + shellWord(c.GPGSigner) + " >> keys.asc; chmod 600 keys.asc"
			}
			return skip(lineOf("USE_GPG"), "USE_GPG: knock reads no GnuPG home (GPG_HOMEDIR); export the keys (%s) and import again with --gpg-keyring keys.asc", export)
		}
		if o.GPG, err = c.GPGOptions(im.ring); err != nil {
			at := lineOf("GPG_RECIPIENT")
			if strings.Contains(err.Error(), "signer") {
				at = lineOf("GPG_SIGNER")
			}
			return skip(at, "%v", err)
		}
		if c.GPGHomeDir != "" {
			im.warn(lineOf("GPG_HOMEDIR"), "GPG_HOMEDIR: ignored: the keys come from --gpg-keyring")
		}
	}
	if (c.NATPort != 0 || c.NATRand) && o.NAT == "" && !o.NATLocal {
		v := "NAT_PORT"
		if c.NATRand {
			v = "NAT_RAND_PORT"
		}
		im.warn(lineOf(v), "%s: ignored without NAT_ACCESS or NAT_LOCAL (as in fwknop)", v)
	}
	if c.ResolveURL != "" && !c.Resolve {
		im.warn(lineOf("RESOLVE_URL"), "RESOLVE_URL: ignored: ALLOW_IP %s wins (as in fwknop)", c.AllowIP)
	}
	// The whole request once, so that what fwknop's client would refuse
	// (a packet too long, a NAT port with two ports...) fails now.
	cl, err := spa.NewClient(o)
	if errors.Is(err, spa.ErrRaw) {
		return skip(lineOf("SPA_SERVER_PROTO"), "%v", err)
	}
	if err != nil {
		return nil, bad(err)
	}
	p := &Profile{
		Name: profile,
		Kind: KindSPA,
		Host: c.Server,
		// fwknopd 2.6 sniffs IPv4 only: knock, ssh and proxy use IPv4.
		Family: "inet",
		SPA:    NewSPAConfig(o),
		Notes:  fmt.Sprintf("imported from %s [%s]", im.file, name),
	}
	// The port that proves the door open: the first TCP port asked for,
	// or for NAT access the server port fwknopd forwards (NAT_PORT, else
	// the ACCESS port). A random NAT port is drawn at each knock.
	if !cl.RandomNAT() {
		p.WaitPort = cl.WaitPort()
	}
	switch {
	case p.WaitPort == 0:
	case o.NATPort != 0:
		p.Notes += fmt.Sprintf("; wait port %d from its NAT_PORT", p.WaitPort)
	default:
		p.Notes += fmt.Sprintf("; wait port %d from its ACCESS", p.WaitPort)
	}
	return p, nil
}

// shellWord quotes s for a shell command line in a hint.
func shellWord(s string) string {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@._-+:", r)) {
			return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
		}
	}
	return s
}

// spaProfileName makes a valid, unused profile name from a stanza name.
func spaProfileName(stanza string, used map[string]bool) string {
	return uniqueName(strings.ToLower(stanza), "spa-", used)
}
