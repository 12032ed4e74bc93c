package serverconf

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/a-knock/knock/internal/lab"
)

// TestNFTablesSyntax checks the nftables part with nft -c, which parses
// and validates without touching the kernel's ruleset (it needs root for
// the netlink cache). In CI it fails when nft is missing.
func TestNFTablesSyntax(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs nft as root")
	}
	lab.Require(t, "nft")
	nft, _ := lab.LookPath("nft")
	out := render(t, nftConfig(t), PartFirewall)
	f := filepath.Join(t.TempDir(), "knock.nft")
	if err := os.WriteFile(f, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(nft, "-c", "-f", f).CombinedOutput(); err != nil {
		t.Fatalf("nft -c -f: %v: %s\n%s", err, b, out)
	}
}
