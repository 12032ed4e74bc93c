package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/a-knock/knock/internal/otp"
	"github.com/a-knock/knock/internal/profiles"
	"github.com/a-knock/knock/internal/sender"
)

func init() {
	// One-time doors have no close sequence: knockd's stop_command closes.
	players[profiles.KindOTP] = player{open: openOTP}
}

// otpLockSlack is how long a knock waits for another knock of the same
// one-time profile beyond that knock's own verification time.
const otpLockSlack = 30 * time.Second

// openOTP plays sequence `counter` of a one-time profile and advances the
// counter: once the wait port opened when one is known (knockd consumes a
// line only on success, and a retry of the same line after a lost packet
// is still valid), else once the sequence was sent. Knocks of one profile
// take turns through a lock file, from reading the counter to storing the
// next one, so that concurrent runs neither break each other's attempt in
// knockd nor play one line twice.
func openOTP(ctx context.Context, t *target, kf *knockFlags, stderr io.Writer) (sender.Result, error) {
	var res sender.Result
	if t.Profile.OTP == nil {
		return res, fmt.Errorf("profile %q: kind otp without one-time settings", t.Name)
	}
	if _, err := otpParams(t.Name, t.Profile.OTP); err != nil {
		return res, err
	}
	pl, err := t.sequencePlan(kf, nil, true)
	if err != nil {
		return res, err
	}
	st, err := otpStores()
	if err != nil {
		return res, err
	}
	if !pl.dryRun {
		lock, err := lockOTP(st, t.Name, pl.verify.Timeout+otpLockSlack)
		if err != nil {
			return res, err
		}
		defer lock.Release()
	}
	// Read the counter again under the lock: the knock before ours may
	// have moved it since the target was resolved.
	p, _, err := st.Get(t.Name)
	if err != nil {
		return res, err
	}
	if p.EffectiveKind() != profiles.KindOTP || p.OTP == nil {
		return res, fmt.Errorf("profile %q is no longer a one-time profile", t.Name)
	}
	params, err := otpParams(t.Name, p.OTP)
	if err != nil {
		return res, err
	}
	n := p.OTP.Counter
	if pl.seq, err = otp.Sequence(p.OTP.Secret, n, params); err != nil {
		return res, fmt.Errorf("profile %q: %w", t.Name, err)
	}
	if pl.dryRun {
		fmt.Fprintf(t.Stdout, "one-time sequence %d of %s (the counter does not move in a dry run)\n", n, t.Name)
		return pl.run(ctx, t.Stdout, stderr)
	}
	if pl.verbose {
		fmt.Fprintf(stderr, "knock: playing one-time sequence %d of %s\n", n, t.Name)
	}
	res, err = pl.run(ctx, t.Stdout, stderr)
	if err != nil {
		if pl.verify.Port != 0 && ctx.Err() == nil {
			fmt.Fprintf(stderr, "knock: hint: the counter of %s stays at %d; if the door did open after all, the server moved on: knock otp resync %s --counter %d\n", t.Name, n, t.Name, n+1)
		}
		return res, err
	}
	if err := advanceOTP(st, t.Name, n); err != nil {
		return res, fmt.Errorf("knocked %s with sequence %d but could not store the next counter (run knock otp resync %s --counter %d): %w", t.Name, n, t.Name, n+1, err)
	}
	if pl.verbose {
		fmt.Fprintf(stderr, "knock: counter of %s now %d\n", t.Name, n+1)
	}
	if pl.verify.Port == 0 {
		fmt.Fprintf(stderr, "knock: hint: knocked %s without verifying and moved its counter to %d; with a wait port (knock otp init --wait, or --wait PORT) it moves only once the door opened\n", t.Name, n+1)
	}
	return res, nil
}

// advanceOTP moves the counter from played to played+1 under the profiles
// lock. A counter that is no longer `played` was set by someone else
// (knock otp resync) and is left alone.
func advanceOTP(st *profiles.Stores, name string, played uint64) error {
	return st.Update(name, func(p *profiles.Profile) error {
		if p.OTP == nil {
			return fmt.Errorf("profile %q is no longer a one-time profile", name)
		}
		if p.OTP.Counter == played {
			p.OTP.Counter = played + 1
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
