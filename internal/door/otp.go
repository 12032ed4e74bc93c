package door

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/a-knock/knock/internal/otp"
	"github.com/a-knock/knock/internal/profiles"
	"github.com/a-knock/knock/internal/sender"
)

// otpLockSlack is how long a knock waits for another knock of the same
// one-time profile beyond that knock's own verification time.
const otpLockSlack = 30 * time.Second

// otpOpener plays sequence `counter` of a one-time profile (knockd's
// one_time_sequences). One-time doors have no close sequence: knockd's
// stop_command closes them.
//
// The counter is stored advanced before the packets leave, as HOTP
// clients do: a crash after that burns a line (the server then needs
// knock otp resync), which is safe, while storing it after sending could
// replay a used line, which is not. When the wait port then stays closed,
// knockd did not take the line (it marks a line only once the sequence
// completed) and the counter goes back, so that a retry plays the same
// line. Knocks of one profile take turns through a lock file, from
// reading the counter to storing it, so that concurrent runs neither
// break each other's attempt in knockd nor play one line twice.
type otpOpener struct{ d *Door }

func (o *otpOpener) closable() bool { return false }

func (o *otpOpener) close(context.Context) error {
	fmt.Fprintf(o.d.opts.log(), "knock: warning: profile %q (otp) has no close action: the door's stop_command closes it; nothing sent\n", o.d.T.Name)
	return nil
}

func (o *otpOpener) open(ctx context.Context) (Result, error) {
	t, opts := o.d.T, o.d.opts
	name := t.Name
	if _, err := o.params(t.Profile); err != nil {
		return Result{}, err
	}
	st, err := opts.stores()
	if err != nil {
		return Result{}, err
	}
	if !opts.DryRun {
		lock, err := lockOTP(st, name, timeout(opts)+otpLockSlack)
		if err != nil {
			return Result{}, err
		}
		defer lock.Release()
	}
	// Read the counter again under the lock: the knock before ours may
	// have moved it since the target was resolved.
	p, _, err := st.Get(name)
	if err != nil {
		return Result{}, err
	}
	params, err := o.params(p)
	if err != nil {
		return Result{}, err
	}
	n := p.OTP.Counter
	if n == ^uint64(0) {
		return Result{}, fmt.Errorf("profile %q: the counter is at its end; make a new secret (knock otp init)", name)
	}
	sq, err := otp.Sequence(p.OTP.Secret, n, params)
	if err != nil {
		return Result{}, fmt.Errorf("profile %q: %w", name, err)
	}
	so := &sequenceOpener{d: o.d, seq: sq, opts: sequenceOptions(t.Profile, opts)}
	if opts.DryRun {
		fmt.Fprintf(opts.out(), "one-time sequence %d of %s (the counter does not move in a dry run)\n", n, name)
		return so.openSeq(ctx, sq)
	}
	if err := setCounter(st, name, n, n+1); err != nil {
		return Result{}, fmt.Errorf("profile %q: could not store the next counter, nothing sent: %w", name, err)
	}
	if opts.Verbose {
		fmt.Fprintf(opts.log(), "knock: playing one-time sequence %d of %s (counter stored as %d)\n", n, name, n+1)
	}
	res, err := so.openSeq(ctx, sq)
	if err != nil {
		if errors.Is(err, sender.ErrNotOpened) && ctx.Err() == nil {
			// The door did not take the line: play it again next time.
			if rerr := setCounter(st, name, n+1, n); rerr != nil {
				return res, fmt.Errorf("%w; and the counter of %s stays at %d: %v", err, name, n+1, rerr)
			}
			fmt.Fprintf(opts.log(), "knock: hint: the counter of %s stays at %d; if the door did open after all, the server moved on: knock otp resync %s --counter %d\n", name, n, name, n+1)
		}
		return res, err
	}
	if res.Port == 0 {
		fmt.Fprintf(opts.log(), "knock: hint: knocked %s without verifying and moved its counter to %d; with a wait port (knock otp init --wait, or --wait PORT) a failed knock keeps its line\n", name, n+1)
	}
	return res, nil
}

// params checks a stored configuration.
func (o *otpOpener) params(p *profiles.Profile) (otp.Params, error) {
	cfg, err := profiles.OTPConfigOf(p)
	if err != nil {
		return otp.Params{}, err
	}
	params, err := cfg.Params()
	if err != nil {
		return params, fmt.Errorf("profile %q: %w", p.Name, err)
	}
	return params, nil
}

// setCounter moves the counter from `from` to `to` under the profiles
// lock. A counter that is no longer `from` was set by someone else (knock
// otp resync) and is left alone.
func setCounter(st *profiles.Stores, name string, from, to uint64) error {
	return st.Update(name, func(p *profiles.Profile) error {
		if p.OTP == nil {
			return fmt.Errorf("profile %q is no longer a one-time profile", name)
		}
		if p.OTP.Counter == from {
			p.OTP.Counter = to
		}
		return nil
	})
}

// lockOTP takes the play lock of profile name: a file next to the
// profiles file.
func lockOTP(st *profiles.Stores, name string, wait time.Duration) (*otp.PlayLock, error) {
	dir := filepath.Dir(st.FilePath())
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create config directory: %w", err)
	}
	return otp.LockPlay(filepath.Join(dir, "otp-"+name+".lock"), wait)
}
