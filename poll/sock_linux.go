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
// SIGPIPE. A descriptor that is not a socket gets read(2)/write(2).
// Measured in docs/PERFORMANCE.md ("Cheaper reads and writes").
func sockRead(fd int, p []byte) (int, error) {
	r, _, e := unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(fd),
		uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)), 0, 0, 0)
	switch e {
	case 0:
		return int(r), nil
	case unix.ENOTSOCK:
		return unix.Read(fd, p)
	}
	return -1, e
}

func sockWrite(fd int, p []byte) (int, error) {
	r, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd),
		uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)), unix.MSG_NOSIGNAL, 0, 0)
	switch e {
	case 0:
		return int(r), nil
	case unix.ENOTSOCK:
		return unix.Write(fd, p)
	}
	return -1, e
}

// sockClose and sockShutdown end a connection's socket as raw system calls
// too: neither blocks without SO_LINGER, which nothing here sets.
func sockClose(fd int) {
	unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
}

func sockShutdown(fd int) {
	unix.RawSyscall(unix.SYS_SHUTDOWN, uintptr(fd), unix.SHUT_WR, 0)
}
