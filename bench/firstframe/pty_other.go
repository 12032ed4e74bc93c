//go:build !linux

package main

import (
	"errors"
	"time"
)

func run([]string, string, string, time.Duration) (time.Duration, error) {
	return 0, errors.New("firstframe runs on Linux only")
}
