package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// answers maps terminal queries to what a dark 120x40 xterm replies.
var answers = []struct{ query, reply string }{
	{"\x1b]11;?\x1b\\", "\x1b]11;rgb:0000/0000/0000\x1b\\"},
	{"\x1b]11;?\a", "\x1b]11;rgb:0000/0000/0000\a"},
	{"\x1b]10;?\x1b\\", "\x1b]10;rgb:ffff/ffff/ffff\x1b\\"},
	{"\x1b[6n", "\x1b[1;1R"},
	{"\x1b[c", "\x1b[?62;22c"},
	{"\x1b[0c", "\x1b[?62;22c"},
}

func run(argv []string, marker, quit string, limit time.Duration) (time.Duration, error) {
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return 0, err
	}
	defer ptm.Close()
	fd := int(ptm.Fd())
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		return 0, err
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		return 0, err
	}
	if err := unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 120}); err != nil {
		return 0, err
	}
	pts, err := os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = pts, pts, pts
	cmd.Env = append(os.Environ(), "TERM=xterm-256color", "COLORTERM=truecolor")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		pts.Close()
		return 0, err
	}
	pts.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	found := make(chan time.Duration, 1)
	go func() {
		var seen []byte
		buf := make([]byte, 64<<10)
		sent := false
		for {
			k, err := ptm.Read(buf)
			if k > 0 {
				seen = append(seen, buf[:k]...)
				for _, a := range answers {
					for bytes.Contains(seen, []byte(a.query)) {
						seen = bytes.Replace(seen, []byte(a.query), nil, 1)
						_, _ = ptm.Write([]byte(a.reply))
					}
				}
				if !sent && bytes.Contains(seen, []byte(marker)) {
					sent = true
					found <- time.Since(start)
					_, _ = ptm.Write([]byte(quit))
				}
				if len(seen) > 1<<20 {
					seen = seen[len(seen)-4096:]
				}
			}
			if err != nil {
				return
			}
		}
	}()
	var got time.Duration
	select {
	case got = <-found:
	case err := <-done:
		return 0, fmt.Errorf("%s ended before showing %q: %v", argv[0], marker, err)
	case <-time.After(limit):
		_ = cmd.Process.Kill()
		return 0, errors.New("no first frame within the time limit")
	}
	select {
	case <-done:
	case <-time.After(limit):
		_ = cmd.Process.Kill()
		<-done
	}
	return got, nil
}
