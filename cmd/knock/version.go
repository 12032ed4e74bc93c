package main

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// Set with -ldflags "-X main.version=... -X main.commit=... -X main.date=...".
var (
	version string
	commit  string
	date    string
)

// versionString reports the version from the linker flags, else from the
// module's build information.
func versionString() string {
	v, c, d := buildInfo()
	return fmt.Sprintf("knock %s (commit %s, built %s)", v, c, d)
}

// buildInfo returns the version, the commit (12 hex digits) and the build
// time, "unknown" for what is not known.
func buildInfo() (v, c, d string) {
	v, c, d = version, commit, date
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && c == "":
				c = s.Value
			case s.Key == "vcs.time" && d == "":
				d = s.Value
			}
		}
	}
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	v = strings.TrimPrefix(v, "v") // go install's v1.2.3 and a release's 1.2.3 read the same
	if c == "" {
		c = "unknown"
	}
	if d == "" {
		d = "unknown"
	}
	return v, c[:min(len(c), 12)], d
}
