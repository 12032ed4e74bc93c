//go:build !windows && !plan9

package server

import (
	"io"
	"log/syslog"
)

// openSyslog returns a writer to the system log, as knockd's UseSyslog.
func openSyslog() (io.WriteCloser, error) {
	return syslog.New(syslog.LOG_NOTICE|syslog.LOG_DAEMON, "knock-serve")
}
