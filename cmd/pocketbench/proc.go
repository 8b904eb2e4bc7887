package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// clockTick is USER_HZ, the unit of utime/stime in /proc/PID/stat. Linux
// fixes it at 100 for user space regardless of the kernel's HZ.
const clockTick = 100

// procCPU returns the user+system CPU time consumed so far by process pid.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// comm (field 2) may contain spaces and parentheses: parse after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	ut, err1 := strconv.ParseUint(string(f[11]), 10, 64)
	st, err2 := strconv.ParseUint(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad utime/stime", pid)
	}
	return time.Duration(ut+st) * time.Second / clockTick, nil
}

// procRSS returns the resident set size (VmRSS) of process pid in bytes.
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := bytes.Fields(v) // "12345 kB"
			if len(f) == 2 && string(f[1]) == "kB" {
				kb, err := strconv.ParseInt(string(f[0]), 10, 64)
				if err == nil {
					return kb << 10, nil
				}
			}
			return 0, fmt.Errorf("/proc/%d/status: bad VmRSS line %q", pid, line)
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS (kernel thread or zombie?)", pid)
}

// selfCPU is the load generator's own user+system CPU time (getrusage).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// raiseNoFile lifts the soft RLIMIT_NOFILE to the hard limit and returns
// the resulting soft limit.
func raiseNoFile() (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	if rl.Cur < rl.Max {
		want := rl
		want.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
			return uint64(rl.Cur), fmt.Errorf("raising RLIMIT_NOFILE to %d: %v", rl.Max, err)
		}
		rl = want
	}
	return uint64(rl.Cur), nil
}

// cpuProbe samples the servers' CPU time (summed over pids) and our own
// around the measured window.
type cpuProbe struct {
	pids       []int
	srv0, srv1 time.Duration
	self0      time.Duration
	self1      time.Duration
	err        error
}

func (p *cpuProbe) start() {
	p.self0 = selfCPU()
	p.srv0, p.err = sumCPU(p.pids)
}

func (p *cpuProbe) stop() {
	p.self1 = selfCPU()
	if p.err == nil {
		p.srv1, p.err = sumCPU(p.pids)
	}
}

// sumCPU is the CPU time of every process in pids together.
func sumCPU(pids []int) (time.Duration, error) {
	var sum time.Duration
	for _, pid := range pids {
		t, err := procCPU(pid)
		if err != nil {
			return 0, err
		}
		sum += t
	}
	return sum, nil
}

// fill stores the CPU figures in r; count is the work done in the window
// (messages or handshakes) for the per-server-CPU-second ratio.
func (p *cpuProbe) fill(r *Result, count uint64) {
	b := (p.self1 - p.self0).Seconds()
	r.BenchCPU = &b
	if len(p.pids) == 0 || p.err != nil {
		return
	}
	s := (p.srv1 - p.srv0).Seconds()
	r.ServerCPU = &s
	if s > 0 {
		per := float64(count) / s
		if r.Mode == "connect" {
			r.HandshakesPerServerCPU = &per
		} else {
			r.MsgsPerServerCPU = &per
		}
	}
}
