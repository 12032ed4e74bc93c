//go:build !unix

package relay

import "os"

// pollable returns v unchanged: without non-blocking pipes the relay
// copies with blocking reads.
func pollable[T any](v T) (T, func(), bool) { return v, func() {}, false }

func isPipe(*os.File) bool { return false }
