package server

import (
	"errors"
	"io"
)

// openSyslog: Windows has no syslog; the caller warns and goes on.
func openSyslog() (io.WriteCloser, error) {
	return nil, errors.New("no syslog on Windows; use LogFile")
}
