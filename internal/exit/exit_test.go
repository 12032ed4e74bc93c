package exit

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, OK},
		{errors.New("network down"), Failure},
		{Usagef("bad port %q", "x"), UsageCode},
		{fmt.Errorf("profile: %w", Usagef("bad")), UsageCode},
		{context.Canceled, Interrupted},
		{fmt.Errorf("%w while knocking", ErrInterrupted), Interrupted},
		{Usage(fmt.Errorf("x: %w", context.Canceled)), Interrupted},
		{WithCode(7, nil), 7},
		{WithCode(Failure, Usagef("wrapped")), Failure},
	} {
		if got := Code(tc.err); got != tc.want {
			t.Errorf("Code(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
	if Usage(nil) != nil {
		t.Error("Usage(nil) != nil")
	}
	if !Silent(WithCode(3, nil)) || Silent(WithCode(3, errors.New("x"))) || Silent(errors.New("x")) {
		t.Error("Silent")
	}
	if err := StripUsage(Usagef("plain")); IsUsage(err) || err.Error() != "plain" {
		t.Errorf("StripUsage: %v", err)
	}
}
