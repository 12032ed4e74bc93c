// Command flood sends spoofed knock-port packets at a fixed rate, for
// bench/run's flood rows and the flood lab test: it plays "other sources"
// hammering a knock server so that the benchmark can check that a
// legitimate sequence still opens and that the server's memory stays
// bounded. It only runs on Linux, as root, inside a network-namespace lab:
// every address it writes is a documentation prefix.
//
// An IPv4 flood comes from at most 500 addresses (192.0.2.0/24 and
// 203.0.113.0/24). An IPv6 flood comes from 2001:db8:f100::/48, by default
// from a new address for every packet, so that each packet to a door's
// first port starts a new knock attempt, as a flood with random spoofed
// sources does.
//
//	flood -dst 198.51.100.2 -ports 7000,7001,7002 -pps 25000 -for 10s
//	flood -dst 2001:db8::2 -ports 7000 -pps 25000 -for 10s
//
// It stops after -for or at SIGINT or SIGTERM, and prints the packets it
// sent and the rate it reached.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	dst := flag.String("dst", "198.51.100.2", "IPv4 or IPv6 address to flood")
	ports := flag.String("ports", "7000", "comma list of TCP ports to hit")
	pps := flag.Int("pps", 25000, "packets per second")
	dur := flag.Duration("for", 10*time.Second, "how long to flood")
	sources := flag.Int("sources", 0, "distinct spoofed sources (IPv4: 1..500, 0 all; IPv6: 0 a new one per packet)")
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
	// SIGINT or SIGTERM end the flood early; the rate is still printed.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	sent, err := run(ctx, *dst, ps, *pps, *sources, *dur)
	if err != nil {
		fmt.Fprintf(os.Stderr, "flood: %v\n", err)
		os.Exit(1)
	}
	el := time.Since(start)
	fmt.Printf("%d packets in %s: %.0f pps\n", sent, el.Round(time.Millisecond), float64(sent)/el.Seconds())
}
