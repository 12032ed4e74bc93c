package doctor

import (
	"context"
	"fmt"
	"time"

	"github.com/a-knock/knock/internal/door"
	"github.com/a-knock/knock/internal/sender"
)

// Knock opens NAME's door (verified on the guarded port), then
// closes it, and reports whether the port opened and closed.
func Knock(ctx context.Context, name string, opts door.Options) []Result {
	fail := func(check, format string, args ...any) []Result {
		return []Result{{Status: Fail, Check: check, Message: fmt.Sprintf(format, args...)}}
	}
	d, err := door.Lookup(ctx, name, opts)
	if err != nil {
		return fail("knock", "%v", err)
	}
	port := d.T.WaitPort()
	res, err := d.Open(ctx)
	timing := KnockTiming(res, d.Plan(), opts.Timeout)
	if err != nil {
		return append(fail("knock", "tcp/%d on %s did not open after knock %s: %v; check the server's syslog for knockd lines (grep knockd /var/log/syslog)", port, d.T.Addr, name, err), timing...)
	}
	out := []Result{{Status: OK, Check: "knock", Message: fmt.Sprintf("tcp/%d on %s opened after %d round(s), %s", port, d.T.Addr, res.Rounds, res.Elapsed.Round(time.Millisecond))}}
	out = append(out, timing...)
	if !d.Closable() {
		return append(out, Result{Status: Warn, Check: "close", Message: fmt.Sprintf("profile %q has no close sequence: the port stays open until the server closes it", name)})
	}
	if err := d.Close(ctx); err != nil {
		return append(out, Result{Status: Fail, Check: "close", Message: fmt.Sprintf("knock close %s: %v", name, err)})
	}
	// The close door needs a moment to run its command.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if !sender.IsOpen(ctx, d.T.Addr, port, time.Second) {
			return append(out, Result{Status: OK, Check: "close", Message: fmt.Sprintf("tcp/%d closed again after knock close %s", port, name)})
		}
		time.Sleep(200 * time.Millisecond)
	}
	return append(out, Result{Status: Warn, Check: "close", Message: fmt.Sprintf("tcp/%d still accepts connections 5 s after knock close %s (a timed door closes later by itself)", port, name)})
}
