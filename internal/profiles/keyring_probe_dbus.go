//go:build linux || netbsd || openbsd || (freebsd && cgo) || (dragonfly && cgo)

package profiles

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	dbus "github.com/godbus/dbus/v5"
)

const secretsName = "org.freedesktop.secrets"

// probeKeyring checks, without touching any item (so without an unlock
// prompt), that a Secret Service can answer on the session bus. It never
// lets D-Bus autolaunch a bus.
func probeKeyring() error {
	addr := os.Getenv("DBUS_SESSION_BUS_ADDRESS")
	if addr == "" {
		rt := os.Getenv("XDG_RUNTIME_DIR")
		if rt == "" {
			return fmt.Errorf("%w: no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)", ErrNoKeyring)
		}
		if _, err := os.Stat(filepath.Join(rt, "bus")); err != nil {
			return fmt.Errorf("%w: no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)", ErrNoKeyring)
		}
	}
	conn, err := dbus.SessionBus()
	if err != nil {
		return fmt.Errorf("%w: D-Bus session bus: %v", ErrNoKeyring, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var has bool
	if err := conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, secretsName).Store(&has); err != nil {
		return fmt.Errorf("%w: D-Bus: %v", ErrNoKeyring, err)
	}
	if has {
		return nil
	}
	var names []string
	if err := conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.ListActivatableNames", 0).Store(&names); err == nil && slices.Contains(names, secretsName) {
		return nil
	}
	return fmt.Errorf("%w: no Secret Service (such as gnome-keyring) on the D-Bus session bus", ErrNoKeyring)
}
