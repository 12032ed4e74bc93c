// Command wan runs internal/lab's WAN emulator on its own, for bench/run's
// timers row: it builds a WAN lab (a client and a server namespace joined
// through a third in which the emulator forwards every frame with the
// given delay, jitter and loss), prints the lab's names on one line, and
// keeps forwarding until it gets SIGTERM, SIGINT or SIGHUP, or its parent
// dies; then it tears the lab down. It only runs on Linux, as root. The
// lab's addresses are documentation prefixes (198.51.100.1 and .2,
// 2001:db8::1 and ::2) and neither namespace has a default route.
//
//	wan -delay 75ms -jitter 15ms -loss 0.02
//	wan -delay 75ms -jitter 15ms -knock-loss 0.25 -guard 22
//
// The line it prints is shell assignments:
//
//	WAN_C=knc-1a2b3c4d WAN_S=kns-1a2b3c4d WAN_CIF=vc1a2b3c4d WAN_SIF=vs1a2b3c4d WAN_M=knm-1a2b3c4d
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	var c config
	flag.DurationVar(&c.delay, "delay", 75*time.Millisecond, "one-way delay, each way")
	flag.DurationVar(&c.jitter, "jitter", 15*time.Millisecond, "uniform jitter, each way (±)")
	flag.Float64Var(&c.loss, "loss", 0, "probability that a packet is lost, each way")
	flag.Float64Var(&c.knockLoss, "knock-loss", 0, "probability that a knock (client to server, not to -guard) is lost")
	flag.IntVar(&c.guard, "guard", 22, "with -knock-loss: the port whose packets are never lost")
	flag.Parse()
	if flag.NArg() > 0 || c.loss < 0 || c.loss > 1 || c.knockLoss < 0 || c.knockLoss > 1 || c.delay < 0 || c.jitter < 0 {
		fmt.Fprintln(os.Stderr, "usage: wan [-delay D] [-jitter D] [-loss P] [-knock-loss P -guard PORT]")
		os.Exit(2)
	}
	os.Exit(run(c))
}

type config struct {
	delay, jitter   time.Duration
	loss, knockLoss float64
	guard           int
}
