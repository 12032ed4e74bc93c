package profiles

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/zalando/go-keyring"
)

// keyringTimeout bounds one keyring call; an unlock prompt counts, so it
// leaves a user time to type a password.
const keyringTimeout = 90 * time.Second

// OSKeyring is the operating system's keyring through go-keyring: macOS
// Keychain, Windows Credential Manager or the freedesktop Secret Service.
type OSKeyring struct{}

// Get implements [Backend].
func (OSKeyring) Get(account string) (string, error) {
	var s string
	err := withTimeout(func() (err error) { s, err = keyring.Get(KeyringService, account); return })
	return s, mapKeyringErr(err)
}

// Set implements [Backend].
func (OSKeyring) Set(account, secret string) error {
	return mapKeyringErr(withTimeout(func() error { return keyring.Set(KeyringService, account, secret) }))
}

// Delete implements [Backend].
func (OSKeyring) Delete(account string) error {
	return mapKeyringErr(withTimeout(func() error { return keyring.Delete(KeyringService, account) }))
}

func withTimeout(f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	t := time.NewTimer(keyringTimeout)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return fmt.Errorf("keyring did not answer within %s (locked, and no unlock prompt could be shown?)", keyringTimeout)
	}
}

func mapKeyringErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, keyring.ErrNotFound):
		return ErrItemNotFound
	case errors.Is(err, keyring.ErrUnsupportedPlatform):
		return fmt.Errorf("%w: %v", ErrNoKeyring, err)
	case errors.Is(err, keyring.ErrSetDataTooBig):
		return fmt.Errorf("keyring: %w", err)
	}
	msg := err.Error()
	low := strings.ToLower(msg)
	switch {
	case strings.Contains(low, "failed to unlock"), strings.Contains(low, "prompt"), strings.Contains(low, "locked"):
		return fmt.Errorf("keyring is locked and could not be unlocked (%s); unlock it (log in to the desktop session) or use --store file", oneLine(msg))
	case strings.Contains(low, "serviceunknown"), strings.Contains(low, "was not provided by any"), strings.Contains(low, "no such object"), strings.Contains(low, "object does not exist"):
		return fmt.Errorf("%w: %s", ErrNoKeyring, oneLine(msg))
	}
	return fmt.Errorf("keyring: %s", oneLine(msg))
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
