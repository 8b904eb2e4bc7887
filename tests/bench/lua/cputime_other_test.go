//go:build !unix

package lua

func processCPU() (int64, bool) { return 0, false }
