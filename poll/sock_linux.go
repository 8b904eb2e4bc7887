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

func sockWrite(fd int, p []byte) (int, error) { return sendto(fd, p, unix.MSG_NOSIGNAL) }

// sockWriteLast writes a closing connection's output, which shutdown (or
// close) follows as soon as the kernel has taken all of it: MSG_MORE holds
// the last segment back until then, so the FIN rides on it and the peer
// gets one packet (close frame and FIN) instead of two. Any other event
// that pushes (an ACK, a later write) sends it as usual.
func sockWriteLast(fd int, p []byte) (int, error) {
	return sendto(fd, p, unix.MSG_NOSIGNAL|unix.MSG_MORE)
}

func sendto(fd int, p []byte, flags uintptr) (int, error) {
	r, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd),
		uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)), flags, 0, 0)
	switch e {
	case 0:
		return int(r), nil
	case unix.ENOTSOCK:
		return unix.Write(fd, p)
	}
	return -1, e
}

// DirectWriter is sockWrite on fd for a goroutine that owns the socket's
// output for the moment instead of the loop (a TLS handshake writing its
// flights: transport.Session.WriteDirect). Off Linux it is nil: the loop
// writes everything.
func DirectWriter(fd int) func([]byte) (int, error) {
	return func(p []byte) (int, error) { return sockWrite(fd, p) }
}

// schedYield is sched_yield(2), raw: it never blocks.
func schedYield() { unix.RawSyscall(unix.SYS_SCHED_YIELD, 0, 0, 0) }

// sockClose and sockShutdown end a connection's socket as raw system calls
// too: neither blocks without SO_LINGER, which nothing here sets.
func sockClose(fd int) {
	unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
}

func sockShutdown(fd int) {
	unix.RawSyscall(unix.SYS_SHUTDOWN, uintptr(fd), unix.SHUT_WR, 0)
}
