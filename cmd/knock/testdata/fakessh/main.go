//go:build windows

// Command fakessh stands in for OpenSSH's ssh.exe in the Windows lab
// (cmd/knock/wine_lab_test.go), which runs it under wine. It takes the
// options knock ssh passes (-4, -6, -F FILE, -o KEY=VALUE, -G), connects
// to the HostName on port 22 and prints the server's banner, which shows
// that the door was open, then runs a pretend remote command:
//
//	(none)       read lines from stdin; "exit N" ends with status N
//	echo WORDS   print WORDS
//	exit N       end with status N
//	wait         wait up to a minute for Ctrl+C or Ctrl+Break
//	ctrl-c       send CTRL_C_EVENT to the console's process group, then wait
//	ctrl-break   send CTRL_BREAK_EVENT likewise, then wait three seconds
//
// Ctrl+C and Ctrl+Break end it with status 130, a wait without either
// with 124. When FAKESSH_LOG names a file, it appends its arguments and
// KNOCK_OPENED to it.
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/windows"
)

func main() {
	// Caught from the start, as ssh does.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)

	var host, dest string
	port := "22"
	dumpConfig := false
	args := os.Args[1:]
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		a := args[0]
		args = args[1:]
		switch a {
		case "-G":
			dumpConfig = true
		case "-F", "-o", "-p":
			if len(args) == 0 {
				fail(255, "option %s needs a value", a)
			}
			v := args[0]
			args = args[1:]
			k, val, _ := strings.Cut(v, "=")
			switch {
			case a == "-p":
				port = v
			case a == "-o" && strings.EqualFold(k, "HostName"):
				host = val
			case a == "-o" && strings.EqualFold(k, "Port"):
				port = val
			}
		}
	}
	if len(args) == 0 {
		fail(255, "no destination")
	}
	dest, args = args[0], args[1:]
	if host == "" {
		host = dest
	}
	if dumpConfig {
		fmt.Printf("hostname %s\nport %s\n", strings.ToLower(host), port)
		return
	}
	if path := os.Getenv("FAKESSH_LOG"); path != "" {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err == nil {
			fmt.Fprintf(f, "args=%q KNOCK_OPENED=%s\n", os.Args[1:], os.Getenv("KNOCK_OPENED"))
			f.Close()
		}
	}

	c, err := net.DialTimeout("tcp", net.JoinHostPort(host, port), 10*time.Second)
	if err != nil {
		fail(255, "connect to host %s port %s: %v", host, port, err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	banner, err := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if err != nil {
		fail(255, "no banner from %s: %v", host, err)
	}
	fmt.Printf("fakessh: door open: %s\n", strings.TrimSpace(banner))

	cmd := strings.Join(args, " ")
	word, rest, _ := strings.Cut(cmd, " ")
	switch word {
	case "":
		shell()
	case "echo":
		fmt.Println(rest)
	case "exit":
		os.Exit(atoi(rest))
	case "wait":
		fmt.Println("fakessh: waiting")
		wait(sigs, time.Minute)
	case "ctrl-c", "ctrl-break":
		ev, limit := uint32(windows.CTRL_C_EVENT), time.Minute
		if word == "ctrl-break" {
			ev, limit = windows.CTRL_BREAK_EVENT, 3*time.Second
		}
		fmt.Println("fakessh: waiting")
		if err := windows.GenerateConsoleCtrlEvent(ev, 0); err != nil {
			fmt.Printf("fakessh: GenerateConsoleCtrlEvent(%s): %v\n", word, err)
		}
		wait(sigs, limit)
	default:
		fail(127, "unknown command %q", cmd)
	}
}

// shell reads commands from stdin until "exit N" or the end of input.
func shell() {
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if n, ok := strings.CutPrefix(line, "exit"); ok {
			fmt.Println("fakessh: bye")
			os.Exit(atoi(strings.TrimSpace(n)))
		}
		fmt.Printf("fakessh: %s\n", line)
	}
}

// wait waits up to limit for a console control event.
func wait(sigs <-chan os.Signal, limit time.Duration) {
	select {
	case s := <-sigs:
		fmt.Printf("fakessh: got %v\n", s)
		os.Exit(130)
	case <-time.After(limit):
		fmt.Printf("fakessh: no console control event within %s\n", limit)
		os.Exit(124)
	}
}

func atoi(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0
	}
	return n
}

func fail(code int, format string, args ...any) {
	fmt.Fprintf(os.Stderr, "fakessh: "+format+"\n", args...)
	os.Exit(code)
}
