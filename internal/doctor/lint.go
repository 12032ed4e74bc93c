package doctor

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/a-knock/knock/internal/gen"
	"github.com/a-knock/knock/internal/knockdconf"
	"github.com/a-knock/knock/internal/safeio"
	"github.com/a-knock/knock/internal/seq"
	"github.com/a-knock/knock/internal/serverconf"
)

// Input is what [Lint] examines.
type Input struct {
	Conf    *knockdconf.Config // from knockdconf.Parse; may be partial
	ConfErr error              // Parse's error, reported finding by finding

	Rules    *Ruleset // an iptables-save dump, or nil
	RulesErr error    // ParseRules's error

	// ReadFile reads one_time_sequences files; nil means a bounded read
	// of a regular file.
	ReadFile func(string) ([]byte, error)
}

// commandKeys are the door keys that hold shell commands.
var commandKeys = []string{"start_command", "start_command_6", "stop_command", "stop_command_6"}

func doorCommand(d *knockdconf.Door, key string) string {
	switch key {
	case "start_command":
		return d.StartCommand
	case "start_command_6":
		return d.StartCommand6
	case "stop_command":
		return d.StopCommand
	case "stop_command_6":
		return d.StopCommand6
	}
	return ""
}

// keyLine is the line of key in d, or the door's header line.
func keyLine(d *knockdconf.Door, key string) int {
	if n := d.Lines[key]; n > 0 {
		return n
	}
	return d.Line
}

// Lint checks a knockd.conf and, when given, the iptables-save dump of the
// same server. It returns every finding, in file and line order.
func Lint(in Input) []Finding {
	l := &linter{in: in}
	if l.in.ReadFile == nil {
		l.in.ReadFile = func(p string) ([]byte, error) { return safeio.ReadFile(p, safeio.ConfigLimit) }
	}
	files := []string{}
	if in.Conf != nil {
		files = append(files, in.Conf.File)
	}
	if in.Rules != nil {
		files = append(files, in.Rules.File)
	}
	l.syntax()
	if in.Conf != nil {
		l.options()
		for _, d := range in.Conf.Doors {
			l.door(d)
		}
		l.closing()
	}
	l.rules()
	sortFindings(l.out, files)
	return l.out
}

type linter struct {
	in      Input
	out     []Finding
	guarded []uint16 // ports that doors open with an iptables ACCEPT
}

func (l *linter) add(file string, line int, check, format string, args ...any) {
	l.out = append(l.out, Finding{File: file, Line: line, Check: check, Message: fmt.Sprintf(format, args...)})
}

func (l *linter) note(file string, line int, check, format string, args ...any) {
	l.out = append(l.out, Finding{File: file, Line: line, Check: check, Message: fmt.Sprintf(format, args...), Note: true})
}

func (l *linter) syntax() {
	var kerrs knockdconf.Errors
	var kerr *knockdconf.Error
	switch {
	case errors.As(l.in.ConfErr, &kerrs):
		for _, e := range kerrs {
			l.syntaxError(e)
		}
	case errors.As(l.in.ConfErr, &kerr):
		l.syntaxError(kerr)
	case l.in.ConfErr != nil:
		l.add("", 0, CheckSyntax, "%v", l.in.ConfErr)
	}
	if l.in.RulesErr != nil {
		for _, e := range unjoin(l.in.RulesErr) {
			var le *LineError
			if errors.As(e, &le) {
				l.add(le.File, le.Line, CheckSyntax, "%v", le.Err)
			} else {
				l.add("", 0, CheckSyntax, "%v", e)
			}
		}
	}
}

func (l *linter) syntaxError(e *knockdconf.Error) {
	msg := e.Err.Error()
	if e.Key != "" {
		msg = e.Key + ": " + msg
	}
	l.add(e.File, e.Line, CheckSyntax, "%s (knockd would refuse this line)", msg)
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func (l *linter) door(d *knockdconf.Door) {
	file := l.in.Conf.File
	name := d.Name
	if w := gen.Weakness(d.Sequence); w != "" {
		l.add(file, keyLine(d, "sequence"), CheckWeakSequence,
			"door [%s]: weak sequence: %s; generate one with `knock profile add NAME --generate` and `knock profile server-config NAME`", name, w)
	}
	knocks := len(d.Sequence)
	if d.OneTimeSequences != "" {
		knocks = l.oneTime(d)
	}
	if knocks > 0 && d.SeqTimeout < serverconf.MinSeqTimeout(knocks) {
		l.add(file, keyLine(d, "seq_timeout"), CheckSeqTimeout,
			"door [%s]: seq_timeout %d s is too short for %d knocks: knockd counts whole seconds from the first knock; use at least %d",
			name, int(d.SeqTimeout.Seconds()), knocks, int(serverconf.MinSeqTimeout(knocks).Seconds()))
	}
	if d.TCPFlags.NeedsRaw() && hasTCP(d.Sequence, d.OneTimeSequences != "") {
		l.add(file, keyLine(d, "tcpflags"), CheckRawFlags,
			"door [%s]: tcpflags = %s does not match a plain SYN: every client needs raw sockets (root or CAP_NET_RAW, none on Windows) and telnet, nc or knock --method connect never open it; use tcpflags = syn",
			name, d.TCPFlags)
	}
	for _, key := range commandKeys {
		cmd := doorCommand(d, key)
		if cmd == "" {
			continue
		}
		for _, p := range relativeProgs(cmd) {
			l.add(file, keyLine(d, key), CheckRelativePath,
				"door [%s]: %s runs %q by a relative path: knockd runs it as root with whatever PATH it started with; write the absolute path (command -v %s)",
				name, key, p, p)
		}
		if strings.HasPrefix(key, "start_command") {
			for _, fc := range firewallCalls(cmd) {
				l.appended(d, key, fc)
			}
		}
	}
	if d.StartCommand6 == "" && d.StartCommand != "" {
		for _, fc := range firewallCalls(d.StartCommand) {
			if !fc.IPv6 && strings.Contains(d.StartCommand, "%IP%") {
				l.add(file, keyLine(d, "start_command"), CheckIPv6Fallback,
					"door [%s]: no start_command_6: knockd 0.8 also listens on IPv6 and runs %s with an IPv6 %%IP%%, which fails; add start_command_6 with ip6tables",
					name, fc.Tool)
				break
			}
		}
	}
}

func hasTCP(s seq.Sequence, unknown bool) bool {
	if unknown {
		return true
	}
	for _, k := range s {
		if k.Proto == seq.TCP {
			return true
		}
	}
	return false
}

// appended reports an ACCEPT that a door appends (-A) to a chain: it lands
// behind the chain's DROP and is never reached.
func (l *linter) appended(d *knockdconf.Door, key string, fc firewallCall) {
	if fc.Spec.Target != "ACCEPT" {
		return
	}
	port := uint16(0)
	if len(fc.Spec.DPorts) == 1 {
		var p int
		if _, err := fmt.Sscan(fc.Spec.DPorts[0], &p); err == nil && p > 0 && p < 65536 {
			port = uint16(p)
		}
	}
	if (fc.Op == "-A" || fc.Op == "-I") && port != 0 && !fc.IPv6 && (fc.Spec.Proto == "tcp" || fc.Spec.Proto == "") {
		l.guarded = append(l.guarded, port)
	}
	if fc.Op != "-A" {
		return
	}
	file := l.in.Conf.File
	what := "the port"
	if port != 0 {
		what = fmt.Sprintf("tcp/%d", port)
	}
	if l.in.Rules != nil && !fc.IPv6 {
		if t := l.in.Rules.Table(fc.Table); t != nil {
			for _, r := range t.Rules {
				if r.Chain == fc.Chain && r.Spec.Blocks(port) {
					l.add(file, keyLine(d, key), CheckAppendedAccept,
						"door [%s]: %s appends (%s -A %s) its ACCEPT behind the DROP at %s:%d (%s), so %s never opens; insert it instead: %s -I %s",
						d.Name, key, fc.Tool, fc.Chain, l.in.Rules.File, r.Line, r.Text, what, fc.Tool, fc.Chain)
					return
				}
			}
			return // no DROP for the port in that chain: the append works
		}
	}
	l.add(file, keyLine(d, key), CheckAppendedAccept,
		"door [%s]: %s appends (%s -A %s) its ACCEPT: behind a DROP for %s in %s (the usual setup) it is never reached; insert it instead: %s -I %s",
		d.Name, key, fc.Tool, fc.Chain, what, fc.Chain, fc.Tool, fc.Chain)
}

// closing reports doors that open something nothing closes: no
// stop_command, and no door that deletes a rule.
func (l *linter) closing() {
	closers := 0
	var openers []*knockdconf.Door
	for _, d := range l.in.Conf.Doors {
		switch {
		case revokes(d.StartCommand) || revokes(d.StartCommand6):
			closers++
		case (d.StartCommand != "" || d.StartCommand6 != "") && d.StopCommand == "" && d.StopCommand6 == "":
			openers = append(openers, d)
		}
	}
	if closers > 0 {
		return
	}
	for _, d := range openers {
		l.add(l.in.Conf.File, d.Line, CheckNoClose,
			"door [%s] opens but nothing closes: no stop_command (with cmd_timeout) and no close door that deletes the rule, so access stays until the firewall is reloaded",
			d.Name)
	}
}

// oneTime checks a one_time_sequences file and returns the length of its
// first usable sequence (0 when unknown).
func (l *linter) oneTime(d *knockdconf.Door) int {
	p := d.OneTimeSequences
	b, err := l.in.ReadFile(p)
	if err != nil && !filepath.IsAbs(p) {
		// knockd resolves it from its working directory; doctor tries the
		// configuration's directory too.
		alt := filepath.Join(filepath.Dir(l.in.Conf.File), p)
		if b2, err2 := l.in.ReadFile(alt); err2 == nil {
			b, err, p = b2, nil, alt
		}
	}
	if err != nil {
		l.note(l.in.Conf.File, keyLine(d, "one_time_sequences"), CheckUnreadable,
			"door [%s]: cannot read one_time_sequences file %s here: %v", d.Name, p, errors.Unwrap(err))
		return 0
	}
	knocks := 0
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" || line[0] == '#' {
			continue
		}
		if line[0] != ' ' && line[0] != '\t' {
			l.add(p, i+1, CheckOTPLeadSpace,
				"one-time sequence without a leading space: knockd marks a used line by overwriting its first character with #, which here eats a digit of the first port; start every line with a space")
		}
		if s, err := seq.Parse(seq.TCP, strings.TrimSpace(line)); err == nil && knocks == 0 {
			knocks = len(s)
		}
	}
	return knocks
}

// rules checks the iptables-save dump: something must drop the guarded
// ports, and an ESTABLISHED rule must come before that.
func (l *linter) rules() {
	rs := l.in.Rules
	if rs == nil {
		return
	}
	t := rs.Table("filter")
	var input *Chain
	if t != nil {
		input = t.Chain("INPUT")
	}
	if input == nil {
		l.add(rs.File, 0, CheckNoEstablished, "no *filter table with an INPUT chain: nothing guards the port and no ESTABLISHED rule keeps sessions alive")
		return
	}
	blocksGuarded := func(r *Rule) bool {
		if len(l.guarded) == 0 {
			return r.Spec.Target == "DROP" || r.Spec.Target == "REJECT"
		}
		for _, p := range l.guarded {
			if r.Spec.Blocks(p) {
				return true
			}
		}
		return false
	}
	var est, block *Rule
	for _, r := range t.Rules {
		if r.Chain != "INPUT" {
			continue
		}
		if est == nil && r.Spec.Target == "ACCEPT" && r.Spec.HasState("ESTABLISHED") && !r.Spec.Negated {
			est = r
		}
		if block == nil && blocksGuarded(r) {
			block = r
		}
	}
	policyDrops := input.Policy == "DROP" || input.Policy == "REJECT"
	for _, p := range l.guarded {
		found := policyDrops
		for _, r := range t.Rules {
			if r.Chain == "INPUT" && r.Spec.Blocks(p) {
				found = true
			}
		}
		if !found {
			l.add(rs.File, input.Line, CheckNotBlocked,
				"nothing in INPUT drops tcp/%d and the policy is %s: the port is open without a knock; add -A INPUT -p tcp --dport %d -j DROP after the ESTABLISHED rule",
				p, input.Policy, p)
		}
	}
	switch {
	case est == nil && (block != nil || policyDrops):
		line := input.Line
		if block != nil {
			line = block.Line
		}
		l.add(rs.File, line, CheckNoEstablished,
			"no ESTABLISHED,RELATED ACCEPT rule in INPUT: when the door closes, open sessions die with it; add it before the DROP: -I INPUT 1 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT")
	case est != nil && block != nil && est.Line > block.Line:
		l.add(rs.File, est.Line, CheckNoEstablished,
			"the ESTABLISHED rule comes after the DROP at line %d, so it does not keep sessions alive; move it to the top of INPUT", block.Line)
	}
}

// options notes what the [options] section leaves to chance: where knockd
// logs, and which interface it listens on.
func (l *linter) options() {
	o := l.in.Conf.Options
	file := l.in.Conf.File
	if !o.UseSyslog && o.LogFile == "" {
		l.note(file, 0, CheckLogging, "no UseSyslog or LogFile in [options]: knockd logs nothing outside -v, so grep knockd /var/log/syslog finds nothing when a knock fails")
	}
	if o.Interface == "" {
		l.note(file, 0, CheckInterface, "no Interface in [options]: knockd listens on %s unless started with -i (KNOCKD_OPTS in /etc/default/knockd); check the name with ip link", knockdconf.DefaultInterface)
	}
}

// ReadInput reads the server files to lint: a knockd.conf and, when
// rulesPath is not "", an iptables-save dump, each a regular file of
// bounded size. A file that cannot be read at all is an error; one that
// reads but has problems gives findings.
func ReadInput(confPath, rulesPath string) (Input, error) {
	var in Input
	in.Conf, in.ConfErr = knockdconf.ParseFile(confPath)
	if in.Conf == nil {
		return in, in.ConfErr
	}
	if rulesPath != "" {
		b, err := safeio.ReadFile(rulesPath, safeio.StoreLimit)
		if err != nil {
			return in, fmt.Errorf("read iptables-save dump: %w", err)
		}
		in.Rules, in.RulesErr = ParseRules(rulesPath, bytes.NewReader(b))
	}
	return in, nil
}
