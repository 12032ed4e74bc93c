// Package doctor checks a port-knocking setup the way its seed tutorial's
// checklists ask, but executably. [Lint] reads a knockd.conf (and
// optionally an iptables-save dump) and names each mistake with its file
// and line: an ACCEPT appended behind the DROP, a published or trivial
// sequence, a seq_timeout too short, relative command paths, no way to
// close, TCP flags that need raw sockets, no ESTABLISHED rule, and more.
// [CheckClient] looks at the client side: name resolution per address
// family, raw sockets, interception of knock ports, and whether the guarded
// port is closed and opens after a knock.
//
// Everything here is read-only and needs no privilege.
package doctor

import (
	"fmt"
	"sort"
)

// Check names, printed after each finding so that scripts can grep them.
const (
	CheckSyntax         = "syntax"
	CheckAppendedAccept = "appended-accept"
	CheckNotBlocked     = "not-blocked"
	CheckWeakSequence   = "weak-sequence"
	CheckSeqTimeout     = "seq-timeout"
	CheckRelativePath   = "relative-path"
	CheckNoClose        = "no-close"
	CheckIPv6Fallback   = "ipv6-fallback"
	CheckRawFlags       = "raw-flags"
	CheckNoEstablished  = "no-established"
	CheckOTPLeadSpace   = "otp-leading-space"
	CheckUnreadable     = "unreadable"
	CheckLogging        = "logging"
	CheckInterface      = "interface"
)

// Finding is one problem (or, when Note is set, one remark that does not
// count as a problem) at a place in a file.
type Finding struct {
	File    string
	Line    int // 0 when it concerns the whole file
	Check   string
	Message string
	Note    bool
}

// String formats the finding on one line: "file:line: message (check)".
func (f Finding) String() string {
	loc := f.File
	if f.Line > 0 {
		loc = fmt.Sprintf("%s:%d", f.File, f.Line)
	}
	note := ""
	if f.Note {
		note = "note: "
	}
	return fmt.Sprintf("%s: %s%s (%s)", loc, note, f.Message, f.Check)
}

// Problems counts the findings that are not notes.
func Problems(fs []Finding) int {
	n := 0
	for _, f := range fs {
		if !f.Note {
			n++
		}
	}
	return n
}

// sortFindings orders findings by the order files were first named, then
// by line.
func sortFindings(fs []Finding, files []string) {
	rank := map[string]int{}
	for i, f := range files {
		if _, ok := rank[f]; !ok {
			rank[f] = i
		}
	}
	r := func(f string) int {
		if v, ok := rank[f]; ok {
			return v
		}
		return len(files)
	}
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if r(a.File) != r(b.File) {
			return r(a.File) < r(b.File)
		}
		return a.Line < b.Line
	})
}
