//go:build !linux

package poll

import "fmt"

// ProbeUring fails off Linux: io_uring is a Linux interface.
func ProbeUring() error { return errUringLinuxOnly }

func probeUringCompletion() error { return errUringLinuxOnly }

var errUringLinuxOnly = fmt.Errorf("%w: it is Linux only", ErrUringUnavailable)

const uringSQEntries = 0

func newUringStreams(uint32, int) (Poller, error) { return nil, errUringLinuxOnly }
