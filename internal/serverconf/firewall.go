package serverconf

import (
	"fmt"
	"strings"
)

// consoleWarning heads every firewall part: the rules lock out new
// connections to the guarded port, so a mistake locks the admin out.
const consoleWarning = `# WARNING: keep a second way in open (your provider's web or serial console)
# until a knock has worked: these rules block new connections to tcp/%d.
`

func (c Config) firewall() string {
	if c.Firewall == NFTables {
		return c.nftables()
	}
	return c.iptables()
}

func (c Config) iptables() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Base firewall rules for knock profile %q: run them as root on the\n", c.Name)
	fmt.Fprintf(&b, "# server, in this order.\n")
	fmt.Fprintf(&b, consoleWarning, c.Port)
	for _, tool := range []string{"iptables", "ip6tables"} {
		t := c.Sbin + "/" + tool
		fmt.Fprintf(&b, "# %s: first keep established sessions (your ssh login) alive,\n", tool)
		fmt.Fprintf(&b, "# then drop new connections; knockd inserts (-I) its ACCEPT above both.\n")
		fmt.Fprintf(&b, "%s -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\n", t)
		fmt.Fprintf(&b, "%s -A INPUT -p tcp --dport %d -j DROP\n", t, c.Port)
	}
	b.WriteString("# Keep them across reboots (Debian, Ubuntu: apt-get install iptables-persistent):\n")
	b.WriteString("#   iptables-save >/etc/iptables/rules.v4; ip6tables-save >/etc/iptables/rules.v6\n")
	b.WriteString("# Check the syslog for knockd lines after a knock: grep knockd /var/log/syslog\n")
	return b.String()
}

func (c Config) nftables() string {
	var b strings.Builder
	table := TableName(c.Name)
	fmt.Fprintf(&b, "# nftables rules for knock profile %q: load them as root with\n", c.Name)
	fmt.Fprintf(&b, "#   nft -f FILE    (check first: nft -c -f FILE)\n")
	fmt.Fprintf(&b, consoleWarning, c.Port)
	fmt.Fprintf(&b, "# knockd adds the knocking address to allow4 or allow6 for %ds;\n", secs(c.OpenFor))
	fmt.Fprintf(&b, "# the close door removes it earlier.\n")
	fmt.Fprintf(&b, "table inet %s {\n", table)
	for _, s := range []struct{ name, typ string }{{"allow4", "ipv4_addr"}, {"allow6", "ipv6_addr"}} {
		fmt.Fprintf(&b, "\tset %s {\n\t\ttype %s\n\t\tflags timeout\n\t}\n\n", s.name, s.typ)
	}
	b.WriteString("\tchain input {\n")
	b.WriteString("\t\ttype filter hook input priority filter; policy accept;\n")
	b.WriteString("\t\t# established sessions first, so that closing never cuts a login\n")
	b.WriteString("\t\tct state established,related accept\n")
	fmt.Fprintf(&b, "\t\ttcp dport %d ip saddr @allow4 accept\n", c.Port)
	fmt.Fprintf(&b, "\t\ttcp dport %d ip6 saddr @allow6 accept\n", c.Port)
	fmt.Fprintf(&b, "\t\ttcp dport %d drop\n", c.Port)
	b.WriteString("\t}\n}\n")
	return b.String()
}
