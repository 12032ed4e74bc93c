package sshrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/a-knock/knock/internal/door"
	"github.com/a-knock/knock/internal/sshconf"
)

// SSHOptions say how ssh runs through a door.
type SSHOptions struct {
	// Path is the ssh client; "" looks for ssh in PATH.
	Path string
	// ConfigFile is passed on as -F when the user chose one (knock -F or
	// $KNOCK_SSH_CONFIG), so that ssh reads what knock read.
	ConfigFile string
	// Args are the user's: ssh options, then the remote command.
	Args []string
	// DryRun opens the door in the door's dry-run mode and prints the
	// ssh command line on Out instead of running it.
	DryRun bool
	Out    io.Writer
}

// ErrNoSSH is returned when no ssh client is installed.
var ErrNoSSH = errors.New("ssh not found in PATH: install the OpenSSH client")

// LookSSH finds the ssh client: path when given, else ssh in PATH.
func LookSSH(path string) (string, error) {
	if path != "" {
		return path, nil
	}
	p, err := lookSSH()
	if err != nil {
		return "", ErrNoSSH
	}
	return p, nil
}

// SSH is knock ssh and the picker's Enter: it opens d, waiting on its
// wait port (the ssh port unless the profile or --wait names another),
// runs ssh pinned to the address knocked, and closes d on every way out.
// ssh's exit code comes back as [exit.WithCode].
func SSH(ctx context.Context, d *door.Door, o SSHOptions) error {
	sshPath, err := LookSSH(o.Path)
	if err != nil {
		return err
	}
	args := Command(ctx, sshPath, d.T, o.ConfigFile, o.Args)
	if o.DryRun {
		if _, err := d.Open(ctx); err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "then run: %s\n", strings.Join(append([]string{sshPath}, args...), " "))
		return nil
	}
	return Run(d, exec.Command(sshPath, args...))
}

// Command builds ssh's arguments: the ssh_config knock read, the knocked
// family and address, the name known_hosts knows the server by, the alias
// (so the user's Host blocks still apply), then the user's arguments.
func Command(ctx context.Context, sshPath string, t *door.Target, configFile string, user []string) []string {
	var args []string
	if configFile != "" {
		args = append(args, "-F", configFile)
	}
	if t.Addr.Is4() {
		args = append(args, "-4")
	} else {
		args = append(args, "-6")
	}
	alias := HostKeyAlias(ctx, sshPath, args, t)
	args = append(args, "-o", "HostName="+t.Addr.String(), "-o", "HostKeyAlias="+alias, t.Name)
	return append(args, user...)
}

// HostKeyAlias returns the name under which known_hosts holds the
// server's key: the user's own HostKeyAlias; else the HostName ssh_config
// gives, or the profile's host when ssh_config gives none (the name the
// user would otherwise ssh to), or the name; as "[host]:port" for another
// port than 22, as ssh writes it. It asks `ssh -G`, which applies the
// whole ssh_config as ssh will, and falls back on knock's own reading of
// it.
func HostKeyAlias(ctx context.Context, sshPath string, pre []string, t *door.Target) string {
	host, port := t.SSH.HostName, t.SSHPort
	if host == "" {
		host = t.Name
	}
	ownHost := t.SSH.HostName == "" && t.Profile != nil && t.Profile.Host != ""
	// ssh -G runs Match exec lines too: one saying "knock %n" must not knock.
	env := append(os.Environ(), door.EnvOpened+"="+t.Name)
	if g, err := sshconf.G(ctx, sshPath, pre, t.Name, env); err == nil {
		if g.HostKeyAlias != "" {
			return g.HostKeyAlias
		}
		if g.HostName != "" {
			host = g.HostName
		}
		if g.Port != 0 {
			port = g.Port
		}
	}
	if ownHost {
		host = t.Profile.Host
	}
	host = strings.ToLower(host)
	if port != 0 && port != 22 {
		return "[" + host + "]:" + strconv.Itoa(int(port))
	}
	return host
}
