package fwknoprc

import (
	"bytes"
	"io"
	"strings"
	"time"

	"github.com/a-knock/knock/internal/exit"
	"github.com/a-knock/knock/internal/spa"
)

// Args are the options of fwknop's client as knock spa send and knock spa
// add take them on the command line, named as fwknop names them. A zero
// field is an option not given. [Args.Options] checks them into an SPA
// request; every problem is bad input ([exit.Usage]).
type Args struct {
	Access                   []string
	AllowIP                  string // an IPv4 address, source or resolve
	SourceIP, ResolveIP      bool   // -s (allow source), -R (allow resolve)
	ResolveURL               string
	HTTPOnly                 bool
	FWTimeout                int
	NAT                      string
	NATLocal, NATRand        bool
	NATPort                  uint16
	Command, User            string
	TimeOffset               string // TIME_OFFSET syntax; the three exclude each other
	TimePlus, TimeMinus      string
	Digest, HMACDigest, Mode string
	GPG, GPGNoPW             bool
	GPGRecipient, GPGSigner  string
	Proto                    string
	TCP                      bool // the old --tcp: -P tcp
	Port, SourcePort         uint16
	RandPort                 bool
	SpoofSource, UserAgent   string
	ICMPType, ICMPCode       uint8

	// Where the secrets come from: a key file (or "-", Stdin), else
	// KeyB64 and HMACKeyB64 (the environment, never argv; KeyVars names
	// the variables, for the error without them); exported GPG keyrings
	// and the signer's passphrase.
	KeyFile            string
	KeyB64, HMACKeyB64 string
	KeyVars            string
	GPGKeyrings        []string
	GPGPassphrase      string
	Stdin              io.Reader
}

// Options checks the arguments and reads the keys.
func (a Args) Options() (spa.Options, error) {
	for _, group := range [][]struct {
		name string
		set  bool
	}{
		{{"--access", len(a.Access) > 0}, {"--server-cmd", a.Command != ""}},
		{{"--allow-ip", a.AllowIP != ""}, {"--source-ip", a.SourceIP}, {"--resolve-ip-https", a.ResolveIP}},
		{{"--server-port", a.Port != 0}, {"--rand-port", a.RandPort}},
		{{"--nat-port", a.NATPort != 0}, {"--nat-rand-port", a.NATRand}},
		{{"--time-offset", a.TimeOffset != ""}, {"--time-offset-plus", a.TimePlus != ""}, {"--time-offset-minus", a.TimeMinus != ""}},
		{{"--tcp", a.TCP}, {"--server-proto", a.Proto != ""}},
	} {
		var set []string
		for _, f := range group {
			if f.set {
				set = append(set, f.name)
			}
		}
		if len(set) > 1 {
			return spa.Options{}, exit.Usagef("%s exclude each other", strings.Join(set, " and "))
		}
	}
	if len(a.Access) == 0 && a.Command == "" {
		return spa.Options{}, exit.Usagef("nothing asked: give --access PROTO/PORT (such as tcp/22) or --server-cmd CMD")
	}
	o := spa.Options{
		Access: a.Access, AllowIP: a.AllowIP, ResolveURL: a.ResolveURL, HTTPOnly: a.HTTPOnly,
		FWTimeout: a.FWTimeout, NAT: a.NAT, NATLocal: a.NATLocal, NATPort: a.NATPort, NATRand: a.NATRand,
		Command: a.Command, User: a.User, Proto: a.Proto, Port: a.Port, RandPort: a.RandPort,
		SourcePort: a.SourcePort, SpoofSource: a.SpoofSource, UserAgent: a.UserAgent,
		ICMPType: a.ICMPType, ICMPCode: a.ICMPCode,
	}
	switch {
	case a.SourceIP:
		o.AllowIP = "source"
	case a.ResolveIP, a.AllowIP == "" && (a.ResolveURL != "" || a.HTTPOnly):
		// As fwknop's client: a resolve URL asks for resolving.
		o.AllowIP = spa.AllowResolve
	}
	if a.TCP {
		o.Proto = string(spa.TCP)
	}
	var err error
	if o.Digest, err = spa.ParseDigest(a.Digest); err != nil {
		return o, exit.Usage(err)
	}
	for _, t := range []struct {
		flag, s string
		sign    int
	}{{"time-offset", a.TimeOffset, 1}, {"time-offset-plus", a.TimePlus, 1}, {"time-offset-minus", a.TimeMinus, -1}} {
		if t.s == "" {
			continue
		}
		d, err := ParseOffset(t.s)
		if err != nil {
			return o, exit.Usagef("--%s: %v", t.flag, err)
		}
		o.TimeOffset += time.Duration(t.sign) * d
	}
	gpg := a.GPG || a.GPGRecipient != ""
	if a.GPG && a.GPGRecipient == "" {
		return o, exit.Usagef("--gpg-encryption needs --gpg-recipient-key, the server's key")
	}
	if o.Keys, err = a.keys(gpg); err != nil {
		return o, err
	}
	if o.Keys.HMACDigest, err = spa.ParseDigest(a.HMACDigest); err != nil {
		return o, exit.Usagef("--hmac-digest-type: %v", err)
	}
	if o.Keys.Mode, err = spa.ParseMode(a.Mode); err != nil {
		return o, exit.Usage(err)
	}
	switch {
	case gpg:
		o.GPG, err = a.gpg()
	case a.GPGSigner != "" || len(a.GPGKeyrings) > 0:
		err = exit.Usagef("--gpg-signer-key and --gpg-keyring need --gpg-recipient-key, the server's key")
	}
	return o, err
}

// keys reads the keys from the key file, else the environment. With GPG
// only an HMAC key is read, and none is needed.
func (a Args) keys(gpg bool) (spa.Keys, error) {
	if a.KeyFile != "" {
		return spa.LoadKeyFile(a.KeyFile, a.Stdin, gpg)
	}
	if gpg {
		if a.HMACKeyB64 == "" {
			return spa.Keys{}, nil
		}
		b, err := spa.DecodeKey("HMAC_KEY_BASE64", a.HMACKeyB64)
		return spa.Keys{HMAC: b}, exit.Usage(err)
	}
	if a.KeyB64 == "" {
		return spa.Keys{}, exit.Usagef("no SPA key: give --key-file FILE (see knock spa keygen) or set %s", a.KeyVars)
	}
	keys, err := spa.ParseKeys(a.KeyB64, a.HMACKeyB64)
	return keys, exit.Usage(err)
}

// gpg reads the keyrings and keeps only the two keys used.
func (a Args) gpg() (*spa.GPGOptions, error) {
	if len(a.GPGKeyrings) == 0 {
		return nil, exit.Usagef("GPG needs --gpg-keyring FILE with the exported keys (knock reads no GnuPG home): gpg --export %s > keys.asc; gpg --export-secret-keys SIGNER >> keys.asc; chmod 600 keys.asc", a.GPGRecipient)
	}
	ring, err := ReadGPGKeyrings(a.GPGKeyrings, a.Stdin)
	if err != nil {
		return nil, err
	}
	exported, err := ring.Export(a.GPGRecipient, a.GPGSigner)
	if err != nil {
		return nil, exit.Usage(err)
	}
	g := &spa.GPGOptions{Recipient: a.GPGRecipient, Signer: a.GPGSigner, Keyring: exported}
	if a.GPGPassphrase != "" && !a.GPGNoPW {
		g.SigningPW = []byte(a.GPGPassphrase)
	}
	return g, nil
}

// ReadGPGKeyrings reads exported GPG keys from files ("-" is stdin); nil
// for none.
func ReadGPGKeyrings(paths []string, stdin io.Reader) (*spa.GPGKeyring, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	var rs []io.Reader
	for _, path := range paths {
		b, err := spa.LoadGPGKeyring(path, stdin)
		if err != nil {
			return nil, err
		}
		rs = append(rs, bytes.NewReader(b))
	}
	ring, err := spa.ReadGPGKeyring(rs...)
	return ring, exit.Usage(err)
}
