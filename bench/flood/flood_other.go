//go:build !linux

package main

import (
	"context"
	"errors"
	"time"
)

func run(context.Context, string, []uint16, int, int, time.Duration) (int, error) {
	return 0, errors.New("flood runs on Linux only")
}
