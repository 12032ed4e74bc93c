package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := Run(ctx, &out, false); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{"[1/5]", "[2/5]", "✓ refused", "[3/5]", "admits 127.0.0.1", "[4/5]", `the service says "hello from the guarded service"`, "[5/5]", "shuts 127.0.0.1 out", "all steps passed"} {
		if !strings.Contains(s, want) {
			t.Errorf("demo output lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "\x1b[") {
		t.Errorf("colour codes when not on a terminal:\n%q", s)
	}
}

// In colour, each step's label is painted; NO_COLOR is the caller's
// business.
func TestRunColor(t *testing.T) {
	var out bytes.Buffer
	if err := Run(context.Background(), &out, true); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "\x1b[32m✓ refused") {
		t.Errorf("no colour:\n%q", out.String())
	}
}
