//go:build unix

package lua

import "syscall"

// processCPU returns the CPU time the whole process (every thread, the
// collector's included) has used, in nanoseconds: on a shared machine it
// moves less with other load than wall time does.
func processCPU() (int64, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return ru.Utime.Nano() + ru.Stime.Nano(), true
}
