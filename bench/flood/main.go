// Command flood sends spoofed knock-port packets at a fixed rate, for
// bench/run's flood row: it plays "other sources" hammering a knock server
// so that the benchmark can check that a legitimate sequence still opens
// and that the server's memory stays bounded. It only runs on Linux, as
// root, inside bench/run's network-namespace lab: every address it writes
// is a documentation prefix.
//
//	flood -dst 198.51.100.2 -ports 7000,7001,7002 -pps 25000 -for 10s
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	dst := flag.String("dst", "198.51.100.2", "IPv4 address to flood")
	ports := flag.String("ports", "7000", "comma list of TCP ports to hit")
	pps := flag.Int("pps", 25000, "packets per second")
	dur := flag.Duration("for", 10*time.Second, "how long to flood")
	flag.Parse()
	var ps []uint16
	for _, f := range strings.Split(*ports, ",") {
		n, err := strconv.ParseUint(strings.TrimSpace(f), 10, 16)
		if err != nil || n == 0 {
			fmt.Fprintf(os.Stderr, "flood: bad port %q\n", f)
			os.Exit(2)
		}
		ps = append(ps, uint16(n))
	}
	sent, err := run(*dst, ps, *pps, *dur)
	if err != nil {
		fmt.Fprintf(os.Stderr, "flood: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%d packets in %s: %.0f pps\n", sent, dur.String(), float64(sent)/dur.Seconds())
}
