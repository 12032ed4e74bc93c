//go:build !linux

package main

import (
	"errors"
	"time"
)

func run(string, []uint16, int, int, time.Duration) (int, error) {
	return 0, errors.New("flood runs on Linux only")
}
