package profiles

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// writeFileAtomic replaces path with data, mode 0600: a temporary file in
// the same directory is written, synced and renamed over path, and the
// directory is synced, so that a crash leaves the old or the new content,
// never a mix.
func writeFileAtomic(path string, data []byte) error { return writeFile(path, data, true) }

// writeFile is writeFileAtomic; without durable it skips the syncs, for
// caches that may be lost in a crash but must never be half-written.
func writeFile(path string, data []byte, durable bool) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, tempPattern(filepath.Base(path)))
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if durable {
		if err = f.Sync(); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if durable {
		syncDir(dir)
	}
	return nil
}

// tempPattern names the temporary files of writes to name.
func tempPattern(name string) string { return "." + name + ".tmp-*" }

// syncDir makes a rename durable; Windows cannot open directories for
// syncing, and there the rename is durable once MoveFileEx returns.
func syncDir(dir string) {
	if runtime.GOOS == "windows" {
		return
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// WriteSecretFile writes data to path atomically with mode 0600, for
// exports that hold secrets.
func WriteSecretFile(path string, data []byte) error { return writeFileAtomic(path, data) }
