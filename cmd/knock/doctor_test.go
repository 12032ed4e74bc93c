package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/a-knock/knock/internal/gen"
	"github.com/a-knock/knock/internal/seq"
)

// knockCLI runs the built knock binary with a private home (file store, no
// keyring, empty ssh_config) and returns stdout, stderr and the exit code.
func knockCLI(t *testing.T, home string, args ...string) (string, string, int) {
	t.Helper()
	sshConfig := filepath.Join(home, "ssh_config")
	if _, err := os.Stat(sshConfig); err != nil {
		if err := os.WriteFile(sshConfig, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c := exec.Command(knockBin(t), args...)
	c.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home, "DBUS_SESSION_BUS_ADDRESS=", "KNOCK_SSH_CONFIG="+sshConfig)
	var so, se bytes.Buffer
	c.Stdout, c.Stderr = &so, &se
	err := c.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return so.String(), se.String(), code
}

func TestDoctorSeedCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds the knock binary")
	}
	conf := filepath.Join("..", "..", "internal", "doctor", "testdata", "seed-knockd.conf")
	rules := filepath.Join("..", "..", "internal", "doctor", "testdata", "seed-rules.v4")
	out, errOut, code := knockCLI(t, t.TempDir(), "doctor", "--server-config", conf, "--rules", rules)
	if code != 1 || errOut != "" {
		t.Fatalf("exit %d, stderr %q; want 1 and nothing on stderr", code, errOut)
	}
	for _, want := range []string{
		conf + ":7: door [openSSH]: start_command appends (iptables -A INPUT) its ACCEPT behind the DROP at " + rules + ":7",
		conf + ":5: door [openSSH]: weak sequence: the published example sequence 7000,8000,9000",
		conf + ": note: no Interface in [options]",
		"knock doctor: 5 problems in " + conf + " and " + rules + " (1 note)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(line, conf+":") && !strings.HasPrefix(line, "knock doctor: ") {
			t.Errorf("line without file:line: %q", line)
		}
	}
}

func TestDoctorUsageCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds the knock binary")
	}
	home := t.TempDir()
	for _, args := range [][]string{
		{"doctor"},
		{"doctor", "--server-config", filepath.Join(home, "missing.conf")},
		{"doctor", "--rules", "x"},
		{"doctor", "--server-config", "x", "host"},
		{"doctor", "somehost", "--knock"},
		{"doctor", "host1", "host2"},
		{"doctor", "--server-config", home},
		{"doctor", "--server-config", filepath.Join("testdata", "knockd-seed.conf"), "--rules", home},
		{"profile", "add", "x", "--length", "5"},
		{"profile", "add", "x", "--generate", "--open", "31001,42002,33003"},
		{"profile", "add", "x", "--generate", "--length", "2"},
		{"profile", "server-config", "nosuchprofile"},
	} {
		if _, errOut, code := knockCLI(t, home, args...); code != 2 || !strings.HasPrefix(errOut, "knock: error: ") {
			t.Errorf("knock %s: exit %d, stderr %q; want 2 and one error line", strings.Join(args, " "), code, errOut)
		}
	}
}

// TestGenerateServerConfigCLI generates a profile, renders its server
// configuration and lints it: the generated knockd doors are clean.
func TestGenerateServerConfigCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds the knock binary")
	}
	home := t.TempDir()
	if _, errOut, code := knockCLI(t, home, "profile", "add", "web", "--host", "198.51.100.2", "--generate", "--length", "6", "--proto", "udp", "--store", "file"); code != 0 {
		t.Fatalf("profile add --generate: exit %d: %s", code, errOut)
	}
	shown, _, _ := knockCLI(t, home, "profile", "show", "web", "--reveal")
	var open, closeSeq seq.Sequence
	for _, line := range strings.Split(shown, "\n") {
		k, v, _ := strings.Cut(line, ":")
		s, _ := seq.Parse(seq.TCP, strings.TrimSpace(v))
		switch strings.TrimSpace(k) {
		case "open":
			open = s
		case "close":
			closeSeq = s
		}
	}
	if len(open) != 6 || open.Reverse().String() != closeSeq.String() || gen.MonotonicRun(open) >= 0 || gen.Weakness(open) != "" {
		t.Fatalf("generated open %s close %s", open, closeSeq)
	}
	for _, k := range open {
		if k.Proto != seq.UDP || gen.Avoided(k.Port) {
			t.Fatalf("generated knock %s", k)
		}
	}
	for _, fw := range []string{"iptables", "nftables"} {
		doors, errOut, code := knockCLI(t, home, "profile", "server-config", "web", "--firewall", fw, "--part", "knockd", "--port", "2222")
		if code != 0 || strings.Contains(errOut, "warning: keep a console") {
			t.Fatalf("server-config --part knockd: exit %d: %s", code, errOut)
		}
		if !strings.Contains(doors, open.String()) || !strings.Contains(doors, "--dport 2222") && fw == "iptables" {
			t.Fatalf("doors lack the sequence or port:\n%s", doors)
		}
		f := filepath.Join(home, fw+".conf")
		if err := os.WriteFile(f, []byte("[options]\n UseSyslog\n"+doors), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, _, code := knockCLI(t, home, "doctor", "--server-config", f); code != 0 {
			t.Errorf("%s: doctor on generated doors: exit %d\n%s", fw, code, out)
		}
		_, errOut, _ = knockCLI(t, home, "profile", "server-config", "web", "--firewall", fw, "--part", "firewall")
		if !strings.Contains(errOut, "warning: keep a console open") {
			t.Errorf("%s: no console warning on stderr", fw)
		}
	}
}

// TestServerConfigBadInputCLI: bad input to server-config gets one error
// line naming the value, and none of the warnings about the output.
func TestServerConfigBadInputCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds the knock binary")
	}
	home := t.TempDir()
	if _, errOut, code := knockCLI(t, home, "profile", "add", "web", "--host", "198.51.100.2", "--generate", "--store", "file"); code != 0 {
		t.Fatalf("profile add --generate: exit %d: %s", code, errOut)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--firewall", "pf"}, `firewall "pf"`},
		{[]string{"--part", "bogus"}, `part "bogus"`},
		{[]string{"--style", "odd", "--part", "firewall"}, `style "odd"`},
		{[]string{"--sbin", "sbin"}, `tool directory "sbin"`},
		{[]string{"--port", "0"}, "invalid --port 0"},
	} {
		args := append([]string{"profile", "server-config", "web"}, tt.args...)
		out, errOut, code := knockCLI(t, home, args...)
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if code != exitUsage || out != "" || len(lines) != 1 || !strings.HasPrefix(lines[0], "knock: error: ") || !strings.Contains(lines[0], tt.want) {
			t.Errorf("knock %s: exit %d, stdout %q, stderr %q; want exit 2 and one error line naming %s", strings.Join(args, " "), code, out, errOut, tt.want)
		}
	}
}
