package picker

import (
	"github.com/a-knock/knock/internal/history"
	"github.com/a-knock/knock/internal/profiles"
	"github.com/a-knock/knock/internal/sshconf"
)

// FastSource reads what the first frame shows: the concrete Host aliases
// of the ssh_config at path (through internal/sshconf, knock's one
// reader), the profile names file and the knock history. It asks no
// keyring and resolves no name; a broken ssh_config line is a warning.
func FastSource(path string, explicit bool) Source {
	return func() ([]Entry, []error) {
		var entries []Entry
		var errs []error
		cfg, err := sshconf.Load(path, explicit)
		if err != nil {
			errs = append(errs, err)
		} else {
			errs = append(errs, cfg.Problems...)
			for _, e := range cfg.Hosts() {
				entries = append(entries, Entry{Name: e.Alias, Host: e.HostName})
			}
		}
		hist, err := history.Load()
		if err != nil {
			errs = append(errs, err)
		}
		index := make(map[string]int, len(entries))
		for i, e := range entries {
			index[e.Name] = i
		}
		var names []string
		if st, err := profiles.Default(); err == nil {
			names = st.Names()
		}
		for _, name := range names {
			if i, ok := index[name]; ok {
				entries[i].HasProfile, entries[i].Store = true, "…"
				continue
			}
			entries = append(entries, Entry{Name: name, HasProfile: true, Store: "…"})
		}
		return withHistory(entries, hist), errs
	}
}

// SlowSource lists every store, the keyring included, in the background.
func SlowSource() ([]Entry, []error) {
	st, err := profiles.Default()
	if err != nil {
		return nil, []error{err}
	}
	list, err := st.List()
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	hist, _ := history.Load()
	entries := make([]Entry, 0, len(list))
	for _, e := range list {
		entries = append(entries, Entry{Name: e.Name, Host: e.Host, Store: string(e.Store), HasProfile: true, Kind: string(e.Kind)})
	}
	return withHistory(entries, hist), errs
}

func withHistory(es []Entry, hist map[string]history.Record) []Entry {
	for i := range es {
		if r, ok := hist[es[i].Name]; ok {
			es[i].LastOK, es[i].LastAt, es[i].LastNote = r.OK, r.At, r.Summary
		}
	}
	return es
}
