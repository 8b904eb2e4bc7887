package poll

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Completion I/O on io_uring: a connection's reads are one multishot
// receive drawing on a ring of provided buffers (so an idle connection
// holds none), its writes are sends submitted with the round's other
// work, and everything goes out in the io_uring_enter that waits.

const (
	uringOpAsyncCancel    = 14
	uringOpSend           = 26
	uringOpRecv           = 27
	uringRegisterPbufRing = 22
	uringRecvMultishot    = 1 << 1
	uringSQEBufferSelect  = 1 << 5
	uringCQEFBuffer       = 1 << 0
	// Linux 6.3: a kernel with it has multishot receive (6.0) and
	// provided-buffer rings (5.19), which no probe reports.
	uringFeatRegRegRing = 1 << 13
)

// The provided buffers: count of size bytes, shared by the loop's
// connections. Pages of buffers never used cost no memory.
var (
	uringBufCount = 256 // a power of two
	uringBufSize  = 16 << 10
)

type uringBufRing struct {
	ring    []byte // count entries of 16 bytes; the tail is entry 0's last 2 bytes
	mem     []byte
	size    int
	mask    uint16
	tail    uint16
	tailPtr *uint32 // entry 0's bid and the tail, stored at once
	lent    []uint16
	// touched: buffers were filled since the last trim, lastLent the
	// last time one was.
	touched  bool
	lastLent time.Time
}

type uringBufReg struct {
	ringAddr    uint64
	ringEntries uint32
	bgid        uint16
	flags       uint16
	resv        [3]uint64
}

var errNoStreams = errors.New("kernel io_uring without multishot receive (Linux 6.3 or later)")

// setupStreams registers the provided-buffer ring; without it the
// backend reports readiness only.
func (u *uring) setupStreams() error {
	if u.features&uringFeatRegRegRing == 0 {
		return errNoStreams
	}
	count, size := uringBufCount, uringBufSize
	ring, err := unix.Mmap(-1, 0, count*16, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return err
	}
	mem, err := unix.Mmap(-1, 0, count*size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		unix.Munmap(ring)
		return err
	}
	reg := uringBufReg{ringAddr: uint64(uintptr(unsafe.Pointer(&ring[0]))), ringEntries: uint32(count)}
	_, _, e := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(u.fd), uringRegisterPbufRing, uintptr(unsafe.Pointer(&reg)), 1, 0, 0)
	if e != 0 {
		unix.Munmap(ring)
		unix.Munmap(mem)
		return fmt.Errorf("IORING_REGISTER_PBUF_RING: %w", e)
	}
	b := &uringBufRing{ring: ring, mem: mem, size: size, mask: uint16(count - 1),
		tailPtr: (*uint32)(unsafe.Pointer(&ring[12]))}
	for id := 0; id < count; id++ {
		b.push(uint16(id))
	}
	u.bufs = b
	u.orphans = make(map[uint64]unsafe.Pointer)
	return nil
}

func (b *uringBufRing) push(id uint16) {
	e := b.ring[int(b.tail&b.mask)*16:]
	*(*uint64)(unsafe.Pointer(&e[0])) = uint64(uintptr(unsafe.Pointer(&b.mem[int(id)*b.size])))
	*(*uint32)(unsafe.Pointer(&e[8])) = uint32(b.size)
	*(*uint16)(unsafe.Pointer(&e[12])) = id
	b.tail++
	bid0 := *(*uint16)(unsafe.Pointer(&b.ring[12]))
	atomic.StoreUint32(b.tailPtr, uint32(bid0)|uint32(b.tail)<<16)
}

func (b *uringBufRing) close() {
	unix.Munmap(b.ring)
	unix.Munmap(b.mem)
}

// releaseOf gives back the buffer a completion carries, if any.
func (u *uring) releaseOf(flags uint32) {
	if flags&uringCQEFBuffer != 0 {
		u.bufs.push(uint16(flags >> 16))
	}
}

// Streaming reports whether the provided-buffer ring is set up.
func (u *uring) Streaming() bool { return u.bufs != nil }

// Buffer is the bytes a receive completion put in provided buffer id.
// They are valid until the next Wait, which gives the buffer back.
func (u *uring) Buffer(id int32, n int) []byte {
	off := int(id) * u.bufs.size
	return u.bufs.mem[off : off+n : off+n]
}

// AddStream registers a connected socket whose reads and writes go
// through the ring. It returns the registration, which completions carry.
func (u *uring) AddStream(fd int, in Interest) (uint16, error) {
	s := u.state(fd)
	if s.added {
		return 0, unix.EEXIST
	}
	*s = uringFD{gen: s.gen + 1, added: true, stream: true}
	u.modStream(fd, s, in)
	return s.gen, nil
}

// Stream switches a socket registered with Add (an outbound one, once
// connected) to reads and writes through the ring.
func (u *uring) Stream(fd int) uint16 {
	s := &u.fds[fd]
	u.disarm(fd, s)
	s.stream = true
	u.modStream(fd, s, 0)
	return s.gen
}

// modStream keeps one multishot receive in flight while in has Readable,
// and otherwise a multishot poll for hang-up and errors (as epoll reports
// them without interest). Writable means nothing here: sends complete.
func (u *uring) modStream(fd int, s *uringFD, in Interest) {
	s.in = in
	if in&Readable != 0 {
		if s.armed {
			u.disarm(fd, s)
		}
		if !s.recving {
			s.recvSeq++
			e := u.sqe()
			e.opcode = uringOpRecv
			e.fd = int32(fd)
			e.ioprio = uringRecvMultishot
			e.flags = uringSQEBufferSelect
			e.userData = userData(kindRecv, fd, s.gen, s.recvSeq)
			s.recving = true
		}
		return
	}
	if s.recving {
		u.cancel(userData(kindRecv, fd, s.gen, s.recvSeq))
		s.recving = false
	}
	if !s.armed {
		u.arm(fd, s, 0)
	}
}

// Send submits p, which must stay untouched until its completion: one
// send per socket at a time.
func (u *uring) Send(fd int, p []byte) {
	s := &u.fds[fd]
	e := u.sqe()
	e.opcode = uringOpSend
	e.fd = int32(fd)
	e.addr = uint64(uintptr(unsafe.Pointer(unsafe.SliceData(p))))
	e.len = uint32(len(p))
	e.opFlags = unix.MSG_NOSIGNAL
	e.userData = userData(kindSend, fd, s.gen, 0)
	s.sending, s.sendBuf = true, unsafe.Pointer(unsafe.SliceData(p))
}

// cancelAll stops a closing socket's receive and send, by their
// user_data: the descriptor is closed before the cancellations go out. A
// send's buffer is kept until its completion says the kernel is done.
func (u *uring) cancelAll(fd int, s *uringFD) {
	if s.recving {
		u.cancel(userData(kindRecv, fd, s.gen, s.recvSeq))
	}
	if s.sending {
		ud := userData(kindSend, fd, s.gen, 0)
		u.cancel(ud)
		u.orphans[ud] = s.sendBuf
	}
	s.recving, s.sending, s.sendBuf = false, false, nil
}

// received turns a receive completion into a Ready, lending its buffer
// until the next Wait.
func (u *uring) received(fd int32, s *uringFD, seq uint8, cqe *uringCQE) Ready {
	if s.recving && seq == s.recvSeq && cqe.flags&uringCQEFMore != 0 && cqe.res == -int32(unix.ENOBUFS) {
		// Out of buffers, the kernel keeps the receive but retries only
		// at the socket's next wake-up, which the bytes already waiting
		// may never get: stop it, and the connection starts another once
		// buffers are back.
		u.cancel(userData(kindRecv, int(fd), s.gen, seq))
		cqe.flags &^= uringCQEFMore
	}
	if s.recving && seq == s.recvSeq && cqe.flags&uringCQEFMore == 0 {
		// Until the connection starts another, hang-up and errors are
		// still watched, as when it pauses.
		s.recving = false
		if !s.armed {
			u.arm(int(fd), s, 0)
		}
	}
	r := Ready{FD: fd, Op: OpRecv, Res: cqe.res, Buf: -1, More: s.recving, Gen: s.gen}
	if cqe.flags&uringCQEFBuffer != 0 {
		id := uint16(cqe.flags >> 16)
		r.Buf = int32(id)
		u.bufs.lent = append(u.bufs.lent, id)
	}
	return r
}

// giveBack returns the buffers lent by the last reap.
func (u *uring) giveBack() {
	if u.bufs == nil {
		return
	}
	if len(u.bufs.lent) == 0 {
		return
	}
	for _, id := range u.bufs.lent {
		u.bufs.push(id)
	}
	u.bufs.lent = u.bufs.lent[:0]
	u.bufs.touched, u.bufs.lastLent = true, time.Now()
}

// trimWhenIdle gives the buffers' pages back to the system once no
// receive used them for IdleTrim, as the loop's Buffers do, so an idle
// server holds no receive memory however busy it was. Until then it
// shortens a wait to end when that time comes.
func (b *uringBufRing) trimWhenIdle(timeoutMs int) int {
	left := IdleTrim - time.Since(b.lastLent)
	if left <= 0 {
		// The pages refill with zeros on the next receive. Receives copy
		// on this thread only (task work), never during this call.
		unix.Madvise(b.mem, unix.MADV_DONTNEED)
		b.touched = false
		return timeoutMs
	}
	ms := int(left/time.Millisecond) + 1
	if timeoutMs < 0 || ms < timeoutMs {
		return ms
	}
	return timeoutMs
}
