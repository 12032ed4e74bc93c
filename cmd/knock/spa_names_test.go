//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSPAProfileNamesRefused: a profile named like a subcommand of the
// command tree (or its alias) would never be knocked, so profile add, spa
// add, otp init and profile import refuse the name with a hint.
func TestSPAProfileNamesRefused(t *testing.T) {
	dir, env := spaTestEnv(t)
	keys := writeFile(t, filepath.Join(dir, "lab.keys"), "KEY_BASE64: "+testSPAKey+"\nHMAC_KEY_BASE64: "+testSPAHMAC+"\n", 0o600)
	root := newRootCmd()
	root.InitDefaultHelpCmd()
	var names []string
	for _, c := range root.Commands() {
		names = append(names, c.Name())
		names = append(names, c.Aliases...)
	}
	for _, want := range []string{"ssh", "proxy", "pick", "close", "profile", "spa", "otp", "doctor", "serve", "demo", "completion", "man", "help"} {
		if !strings.Contains(" "+strings.Join(names, " ")+" ", " "+want+" ") {
			t.Fatalf("the command tree lacks %s: %v", want, names)
		}
	}
	for _, name := range names {
		for _, args := range [][]string{
			{"profile", "add", name, "--open", "1,2,3", "--store", "file"},
			{"spa", "add", name, "--host", "127.0.0.1", "-A", "tcp/22", "--key-file", keys, "--store", "file"},
			{"otp", "init", name, "--store", "file"},
		} {
			_, stderr, code := runKnockBin(t, env, args...)
			if code != exitUsage || !strings.Contains(stderr, "is a knock subcommand") || !strings.Contains(stderr, name+"-door") {
				t.Errorf("knock %s: exit %d %q", strings.Join(args, " "), code, stderr)
			}
		}
	}
	rc := writeFile(t, filepath.Join(dir, "fwknoprc"), "[default]\nSPA_SERVER 127.0.0.1\nKEY_BASE64 "+testSPAKey+"\nACCESS tcp/22\n[serve]\n[web]\n", 0o600)
	_, stderr, code := runKnockBin(t, env, "profile", "import", rc, "--store", "file")
	if code != exitUsage || !strings.Contains(stderr, `profile name "serve" is a knock subcommand`) || !strings.Contains(stderr, "--only serve --as serve-door") {
		t.Fatalf("import of [serve]: %d %q", code, stderr)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--as", "serve"}, exitUsage, "is a knock subcommand"},
		{[]string{"--as", "x"}, exitUsage, "--as names one profile, but the file yields 2 (serve, web); pick one with --only"},
		{[]string{"--only", "serve", "--as", "serve-door"}, 0, `imported profile "serve-door" (spa)`},
		{[]string{"--only", "web"}, 0, `imported profile "web" (spa)`},
		{[]string{"--only", "nope"}, exitUsage, "--only nope: no stanza, door or profile of that name"},
	} {
		_, stderr, code := runKnockBin(t, env, append([]string{"profile", "import", rc, "--store", "file"}, tc.args...)...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("import %v: %d %q, want %d and %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
}

func spaTestEnv(t *testing.T) (string, []string) {
	dir := t.TempDir()
	return dir, []string{"HOME=" + dir, "XDG_CONFIG_HOME=" + dir, "XDG_RUNTIME_DIR=" + dir, "DBUS_SESSION_BUS_ADDRESS=",
		"APPDATA=" + dir, envSPAKey + "=", envSPAHMACKey + "="}
}

func writeFile(t *testing.T, path, s string, mode os.FileMode) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), mode); err != nil {
		t.Fatal(err)
	}
	return path
}
