// Command firstframe measures how long a terminal program takes to show
// its first frame, for bench/run's picker row. It starts the command on a
// pseudo-terminal, answers the queries a terminal answers (background
// colour, cursor position, device attributes) as a fast terminal would,
// and prints the milliseconds from start to the first output that contains
// -marker. Then it sends -quit and waits for the command to end.
//
//	firstframe -marker h00001 -- knock pick
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	marker := flag.String("marker", "", "text that shows the first frame is on screen")
	quit := flag.String("quit", "q", "keys that leave the program")
	limit := flag.Duration("timeout", 5*time.Second, "give up after this long")
	flag.Parse()
	if *marker == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: firstframe -marker TEXT -- COMMAND [ARG...]")
		os.Exit(2)
	}
	d, err := run(flag.Args(), *marker, *quit, *limit)
	if err != nil {
		fmt.Fprintf(os.Stderr, "firstframe: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%.1f\n", float64(d.Microseconds())/1000)
}
