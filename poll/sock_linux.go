package poll

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// sockRead and sockWrite are read(2) and write(2) on a connected,
// non-blocking socket, made as recvfrom/sendto without an address (as
// nginx does: no trip through the VFS layer's read/write checks) and as
// raw system calls: they never block, so the runtime's
// entersyscall/exitsyscall around them is pure cost. sendto's
// MSG_NOSIGNAL turns a write to a reset peer into EPIPE without the
// SIGPIPE. Measured in docs/PERFORMANCE.md ("Cheaper reads and writes").
func sockRead(fd int, p []byte) (int, error) {
	r, _, e := unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(fd),
		uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)), 0, 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

func sockWrite(fd int, p []byte) (int, error) {
	r, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd),
		uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)), unix.MSG_NOSIGNAL, 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}
