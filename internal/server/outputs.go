package server

import (
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/a-knock/knock/internal/knockdconf"
)

// Outputs are where a server started from a knockd.conf writes, as its
// [options] say: the console, the LogFile (appended), syslog, and the
// PidFile it keeps while it runs.
type Outputs struct {
	Log      io.Writer // every event line goes to all of them
	Warnings []string  // what could not be opened but need not stop the server
	closers  []func()
}

// OpenOutputs opens what conf's [options] ask for, besides console (nil:
// none). A LogFile or PidFile that cannot be written is an error naming
// its line; syslog that cannot be reached is a warning.
func OpenOutputs(conf *knockdconf.Config, console io.Writer) (*Outputs, error) {
	o := &Outputs{}
	var logs []io.Writer
	if console != nil {
		logs = append(logs, console)
	}
	at := func(key string) string { return fmt.Sprintf("%s:%d: %s", conf.File, conf.Options.Line[key], key) }
	if p := conf.Options.LogFile; p != "" {
		lf, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", at("logfile"), err)
		}
		o.closers = append(o.closers, func() { lf.Close() })
		logs = append(logs, lf)
	}
	if conf.Options.UseSyslog {
		if w, err := openSyslog(); err != nil {
			o.Warnings = append(o.Warnings, fmt.Sprintf("%s: %v", at("usesyslog"), err))
		} else {
			o.closers = append(o.closers, func() { w.Close() })
			logs = append(logs, w)
		}
	}
	if p := conf.Options.PidFile; p != "" {
		if err := os.WriteFile(p, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			o.Close()
			return nil, fmt.Errorf("%s: %w", at("pidfile"), err)
		}
		o.closers = append(o.closers, func() { os.Remove(p) })
	}
	o.Log = io.MultiWriter(logs...)
	return o, nil
}

// Close closes the log file and syslog and removes the PidFile.
func (o *Outputs) Close() {
	for i := len(o.closers) - 1; i >= 0; i-- {
		o.closers[i]()
	}
}
