package serverconf

import (
	"fmt"
	"strings"

	"github.com/a-knock/knock/internal/seq"
)

// commands are the shell commands of the doors, IPv4 and IPv6.
type commands struct {
	open, open6   string // grant access to %IP%
	close, close6 string // revoke it
}

func (c Config) commands() commands {
	if c.Firewall == NFTables {
		table := TableName(c.Name)
		nft := c.Sbin + "/nft"
		add := func(set string) string {
			return fmt.Sprintf("%s add element inet %s %s { %%IP%% timeout %ds }", nft, table, set, secs(c.OpenFor))
		}
		del := func(set string) string {
			// The element may have expired already; that is no error.
			return fmt.Sprintf("%s delete element inet %s %s { %%IP%% } 2>/dev/null || true", nft, table, set)
		}
		return commands{open: add("allow4"), open6: add("allow6"), close: del("allow4"), close6: del("allow6")}
	}
	rule := fmt.Sprintf("INPUT -s %%IP%% -p tcp --dport %d -j ACCEPT", c.Port)
	// Insert (-I) so that the ACCEPT lands above the DROP, and only when it
	// is not there yet (-C), so that a replayed knock adds no second copy
	// that the close door would leave behind.
	// -w waits for the xtables lock rather than failing when another
	// iptables (a stop_command, the admin) holds it.
	open := func(tool string) string {
		t := c.Sbin + "/" + tool + " -w"
		return fmt.Sprintf("%s -C %s 2>/dev/null || %s -I %s", t, rule, t, rule)
	}
	del := func(tool string) string {
		return fmt.Sprintf("%s/%s -w -D %s", c.Sbin, tool, rule)
	}
	return commands{open: open("iptables"), open6: open("ip6tables"), close: del("iptables"), close6: del("ip6tables")}
}

func (c Config) flagsLine() string {
	f := c.Flags.String()
	if f == "" {
		f = DefaultTCPFlags
	}
	return f
}

func hasTCP(s seq.Sequence) bool {
	for _, k := range s {
		if k.Proto == seq.TCP {
			return true
		}
	}
	return false
}

func (c Config) knockd() string {
	cmds := c.commands()
	openName, closeName := DoorNames(c.Name)
	var b strings.Builder
	fmt.Fprintf(&b, "# knockd doors for knock profile %q: add them to /etc/knockd.conf, below\n", c.Name)
	fmt.Fprintf(&b, "# [options], and restart knockd. knockd listens on eth0 unless [options]\n")
	fmt.Fprintf(&b, "# sets Interface (or knockd -i). `knock %s` opens tcp/%d for the knocking\n", c.Name, c.Port)
	fmt.Fprintf(&b, "# address, `knock close %s` closes it again.\n", c.Name)
	door := func(name string, s seq.Sequence, kv [][2]string) {
		fmt.Fprintf(&b, "[%s]\n", name)
		all := [][2]string{{"sequence", s.String()}, {"seq_timeout", fmt.Sprint(secs(c.SeqTimeout))}}
		if hasTCP(s) {
			all = append(all, [2]string{"tcpflags", c.flagsLine()})
		}
		all = append(all, kv...)
		for _, e := range all {
			fmt.Fprintf(&b, "    %-15s = %s\n", e[0], e[1])
		}
	}
	openKV := [][2]string{{"start_command", cmds.open}, {"start_command_6", cmds.open6}}
	// With nftables the set element expires by itself after OpenFor.
	if c.Style == Timed && c.Firewall == IPTables {
		openKV = append(openKV, [2]string{"cmd_timeout", fmt.Sprint(secs(c.OpenFor))},
			[2]string{"stop_command", cmds.close}, [2]string{"stop_command_6", cmds.close6})
	}
	door(openName, c.Open, openKV)
	b.WriteString("\n")
	door(closeName, c.Close, [][2]string{{"start_command", cmds.close}, {"start_command_6", cmds.close6}})
	return b.String()
}
