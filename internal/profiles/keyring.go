package profiles

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// KeyringService is the service name of every keyring item knock writes.
const KeyringService = "knock"

// Keyring errors.
var (
	// ErrNoKeyring: no OS keyring can be used here (for example no D-Bus
	// session bus, or no Secret Service on it).
	ErrNoKeyring = errors.New("no OS keyring available")
	// ErrItemNotFound is what a [Backend] returns for a missing item.
	ErrItemNotFound = errors.New("keyring item not found")
)

// Backend is a keyring: secret strings stored under account names of one
// service. [OSKeyring] is the real one; tests use an in-memory map.
type Backend interface {
	Get(account string) (string, error) // [ErrItemNotFound] when absent
	Set(account, secret string) error
	Delete(account string) error // [ErrItemNotFound] when absent
}

// maxItem bounds every item knock writes: Windows' Credential Manager
// refuses blobs over 2,560 bytes and macOS's security tool lines over
// 4,096 after base64, so big records are split and the index is sharded.
const maxItem = 2048

// maxEntry bounds one index entry (name and host are length- and
// charset-limited), so an entry edited in place always fits its shard.
const maxEntry = 400

// The keyring layout: item "index" lists the shard ids; item "index.N"
// holds index entries; item "profile.NAME.GEN.I" holds part I of a
// profile's record. Writing a new GEN before switching the entry to it
// means a crash leaves the old profile intact (and at worst orphans).
const (
	rootAccount  = "index"
	formatRoot   = "knock-keyring-index"
	formatShard  = "knock-keyring-shard"
	shardPrefix  = "index."
	partPrefix   = "profile."
	maxParts     = maxRecord / maxItem
	genHexDigits = 8
)

type krRoot struct {
	Format string `json:"format"`
	V      int    `json:"v"`
	Shards []int  `json:"shards"`
	Next   int    `json:"next"`
}

type krEntry struct {
	Name  string `json:"n"`
	Host  string `json:"h,omitempty"`
	Kind  Kind   `json:"k,omitempty"`
	Gen   string `json:"g"`
	Parts int    `json:"p"`
}

type krShard struct {
	Format  string    `json:"format"`
	V       int       `json:"v"`
	Entries []krEntry `json:"entries"`
}

type keyringStore struct{ b Backend }

func (k *keyringStore) name() StoreName { return StoreKeyring }

func itemName(account string) string { return KeyringService + "/" + account }

func (k *keyringStore) loadRoot() (*krRoot, error) {
	s, err := k.b.Get(rootAccount)
	if errors.Is(err, ErrItemNotFound) {
		return &krRoot{Format: formatRoot, V: formatVersion, Next: 1}, nil
	}
	if err != nil {
		return nil, err
	}
	var r krRoot
	if err := strictUnmarshal([]byte(s), &r); err != nil {
		return nil, fmt.Errorf("keyring item %s: %w", itemName(rootAccount), err)
	}
	if err := checkFormat(r.Format, r.V, formatRoot); err != nil {
		return nil, fmt.Errorf("keyring item %s: %w", itemName(rootAccount), err)
	}
	for _, id := range r.Shards {
		if id <= 0 || id >= r.Next {
			return nil, fmt.Errorf("keyring item %s: %w: bad shard id %d", itemName(rootAccount), ErrCorrupt, id)
		}
	}
	return &r, nil
}

func (k *keyringStore) loadShard(id int) (*krShard, error) {
	acct := shardPrefix + strconv.Itoa(id)
	s, err := k.b.Get(acct)
	if errors.Is(err, ErrItemNotFound) {
		return nil, fmt.Errorf("keyring item %s: %w: missing", itemName(acct), ErrCorrupt)
	}
	if err != nil {
		return nil, err
	}
	var sh krShard
	if err := strictUnmarshal([]byte(s), &sh); err != nil {
		return nil, fmt.Errorf("keyring item %s: %w", itemName(acct), err)
	}
	if err := checkFormat(sh.Format, sh.V, formatShard); err != nil {
		return nil, fmt.Errorf("keyring item %s: %w", itemName(acct), err)
	}
	for _, e := range sh.Entries {
		if ValidName(e.Name) != nil || validHost(e.Host) != nil || e.Parts < 1 || e.Parts > maxParts || !validGen(e.Gen) {
			return nil, fmt.Errorf("keyring item %s: %w: bad entry", itemName(acct), ErrCorrupt)
		}
	}
	return &sh, nil
}

func validGen(g string) bool {
	if len(g) != genHexDigits {
		return false
	}
	_, err := hex.DecodeString(g)
	return err == nil
}

// index is the whole index, shard by shard in root order.
type index struct {
	root   *krRoot
	shards map[int]*krShard
}

func (k *keyringStore) loadIndex() (*index, error) {
	r, err := k.loadRoot()
	if err != nil {
		return nil, err
	}
	ix := &index{root: r, shards: map[int]*krShard{}}
	for _, id := range r.Shards {
		if ix.shards[id], err = k.loadShard(id); err != nil {
			return nil, err
		}
	}
	return ix, nil
}

// find returns the shard id and position of name's entry.
func (ix *index) find(name string) (id, pos int, ok bool) {
	for _, id := range ix.root.Shards {
		for i, e := range ix.shards[id].Entries {
			if e.Name == name {
				return id, i, true
			}
		}
	}
	return 0, 0, false
}

func (k *keyringStore) list() ([]Entry, error) {
	ix, err := k.loadIndex()
	if err != nil {
		return nil, err
	}
	var es []Entry
	for _, id := range ix.root.Shards {
		for _, e := range ix.shards[id].Entries {
			kind := e.Kind
			if kind == "" {
				kind = KindSequence
			}
			es = append(es, Entry{Name: e.Name, Host: e.Host, Kind: kind, Store: StoreKeyring})
		}
	}
	return es, nil
}

func partAccount(name, gen string, i int) string {
	return partPrefix + name + "." + gen + "." + strconv.Itoa(i)
}

func (k *keyringStore) get(name string) (*Profile, error) {
	ix, err := k.loadIndex()
	if err != nil {
		return nil, err
	}
	id, pos, ok := ix.find(name)
	if !ok {
		return nil, ErrNotFound
	}
	e := ix.shards[id].Entries[pos]
	var b strings.Builder
	for i := 0; i < e.Parts; i++ {
		acct := partAccount(name, e.Gen, i)
		s, err := k.b.Get(acct)
		if errors.Is(err, ErrItemNotFound) {
			return nil, fmt.Errorf("keyring item %s: %w: missing", itemName(acct), ErrCorrupt)
		}
		if err != nil {
			return nil, err
		}
		b.WriteString(s)
	}
	p, err := Decode([]byte(b.String()))
	if err != nil {
		return nil, fmt.Errorf("keyring profile %q: %w", name, err)
	}
	if p.Name != name {
		return nil, fmt.Errorf("keyring profile %q: %w: record names %q", name, ErrCorrupt, p.Name)
	}
	return p, nil
}

func newGen() string {
	b := make([]byte, genHexDigits/2)
	_, _ = rand.Read(b) // crypto/rand never fails on supported systems
	return hex.EncodeToString(b)
}

func split(s string, n int) []string {
	var parts []string
	for len(s) > n {
		parts = append(parts, s[:n])
		s = s[n:]
	}
	return append(parts, s)
}

func (k *keyringStore) writeParts(name, gen string, parts []string) error {
	for i, part := range parts {
		if err := k.b.Set(partAccount(name, gen, i), part); err != nil {
			k.deleteParts(name, gen, i)
			return err
		}
	}
	return nil
}

// deleteParts removes parts 0..n-1, best effort: a leftover is an orphan,
// never a loss.
func (k *keyringStore) deleteParts(name, gen string, n int) {
	for i := 0; i < n; i++ {
		_ = k.b.Delete(partAccount(name, gen, i))
	}
}

func (k *keyringStore) saveShard(id int, sh *krShard) error {
	b, err := json.Marshal(sh)
	if err != nil {
		return err
	}
	if len(b) > maxItem {
		return fmt.Errorf("keyring index shard %d would exceed %d bytes", id, maxItem)
	}
	return k.b.Set(shardPrefix+strconv.Itoa(id), string(b))
}

func (k *keyringStore) saveRoot(r *krRoot) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if len(b) > maxItem {
		return errors.New("too many profiles for the keyring index; use --store file for more")
	}
	return k.b.Set(rootAccount, string(b))
}

func entrySize(e krEntry) int {
	b, _ := json.Marshal(e)
	return len(b) + 1
}

func shardSize(sh *krShard) int {
	b, _ := json.Marshal(sh)
	return len(b)
}

func (k *keyringStore) put(p *Profile, create bool) error {
	rec, err := Encode(p)
	if err != nil {
		return err
	}
	ix, err := k.loadIndex()
	if err != nil {
		return err
	}
	id, pos, exists := ix.find(p.Name)
	if exists && create {
		return ErrExists
	}
	parts := split(string(rec), maxItem)
	if len(parts) > maxParts {
		return fmt.Errorf("%w %q: record too large for the keyring", ErrInvalid, p.Name)
	}
	e := krEntry{Name: p.Name, Host: p.Host, Kind: p.Kind, Gen: newGen(), Parts: len(parts)}
	if entrySize(e) > maxEntry {
		return fmt.Errorf("%w %q: name and host too long for the keyring index", ErrInvalid, p.Name)
	}
	if err := k.writeParts(p.Name, e.Gen, parts); err != nil {
		return err
	}
	if exists {
		sh := ix.shards[id]
		old := sh.Entries[pos]
		sh.Entries[pos] = e
		if err := k.saveShard(id, sh); err != nil {
			k.deleteParts(p.Name, e.Gen, e.Parts)
			return err
		}
		k.deleteParts(old.Name, old.Gen, old.Parts)
		return nil
	}
	if err := k.addEntry(ix, e); err != nil {
		k.deleteParts(p.Name, e.Gen, e.Parts)
		return err
	}
	return nil
}

// addEntry puts e in the first shard with room for it plus the largest
// growth of an in-place edit, else in a new shard, written before the
// root that lists it.
func (k *keyringStore) addEntry(ix *index, e krEntry) error {
	for _, id := range ix.root.Shards {
		sh := ix.shards[id]
		if shardSize(sh)+maxEntry+1 <= maxItem {
			sh.Entries = append(sh.Entries, e)
			return k.saveShard(id, sh)
		}
	}
	r := *ix.root
	id := r.Next
	r.Next++
	r.Shards = append(slices.Clone(r.Shards), id)
	if err := k.saveShard(id, &krShard{Format: formatShard, V: formatVersion, Entries: []krEntry{e}}); err != nil {
		return err
	}
	if err := k.saveRoot(&r); err != nil {
		_ = k.b.Delete(shardPrefix + strconv.Itoa(id))
		return err
	}
	return nil
}

func (k *keyringStore) delete(name string) error {
	ix, err := k.loadIndex()
	if err != nil {
		return err
	}
	id, pos, ok := ix.find(name)
	if !ok {
		return ErrNotFound
	}
	sh := ix.shards[id]
	e := sh.Entries[pos]
	sh.Entries = slices.Delete(sh.Entries, pos, pos+1)
	if len(sh.Entries) == 0 {
		r := *ix.root
		r.Shards = slices.DeleteFunc(slices.Clone(r.Shards), func(x int) bool { return x == id })
		if err := k.saveRoot(&r); err != nil {
			return err
		}
		_ = k.b.Delete(shardPrefix + strconv.Itoa(id))
	} else if err := k.saveShard(id, sh); err != nil {
		return err
	}
	k.deleteParts(e.Name, e.Gen, e.Parts)
	return nil
}
