package engine

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// sendNow is a handshake goroutine's write to its socket
// (Session.WriteDirect): never blocking, whatever the descriptor's mode,
// and no SIGPIPE.
func sendNow(fd int) func([]byte) (int, error) {
	return func(p []byte) (int, error) {
		for {
			r, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd),
				uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)),
				unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL, 0, 0)
			if e == unix.EINTR {
				continue
			}
			if e != 0 {
				return 0, e
			}
			return int(r), nil
		}
	}
}
