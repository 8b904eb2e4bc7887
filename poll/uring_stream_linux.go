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
	uringOpAsyncCancel      = 14
	uringOpSend             = 26
	uringOpRecv             = 27
	uringRegisterPbufRing   = 22
	uringUnregisterPbufRing = 23
	uringRecvMultishot      = 1 << 1
	uringSQEBufferSelect    = 1 << 5
	uringCQEFBuffer         = 1 << 0
	// Linux 6.3: a kernel with it has multishot receive (6.0) and
	// provided-buffer rings (5.19), which no probe reports.
	uringFeatRegRegRing = 1 << 13
)

// The provided buffers, of uringBufSize bytes, shared by the loop's
// connections. The kernel takes them first in, first out, so a ring kept
// full would have a single bulk stream walk (and touch) every buffer. The
// ring therefore holds only a target count, which follows demand: it
// doubles when many connections receiving at once empty it and halves
// after a window of low use.
// Buffers back from a receive go on a stack and the ring is refilled from
// its top, so the same hot buffers come round again; a buffer's pages are
// touched only once it is first needed.
var (
	uringBufMax  = DefaultUringBuffers // the ring's entries: a power of two
	uringBufMin  = 128                 // the target at first and after idle
	uringBufSize = 16 << 10
)

type uringBufRing struct {
	ring    []byte // max entries of 16 bytes; the tail is entry 0's last 2 bytes
	mem     []byte
	size    int
	mask    uint16
	tail    uint16
	tailPtr *uint32 // entry 0's bid and the tail, stored at once
	lent    []uint16

	free     []uint16 // neither posted nor lent; the last used on top
	warm     []bool   // by id: the buffer's pages may be resident
	made     int      // ids below made have been posted at least once
	posted   int      // in the kernel's ring, less those reaped
	target   int      // how many to keep posted
	min, max int
	starved  bool // a receive found the ring empty since the last refill
	// round counts refills; active, the connections whose receives
	// completed in this one (uringFD.recvRound says which have).
	round  uint32
	active int
	// The shrink window: the most buffers one round used since it began,
	// and the most connections receiving in one.
	peak, peakActive int
	windowStart      time.Time
	grew, shrank     int64 // times target doubled, and fell (halved or reset when idle)
	peakTarget       int   // the highest target since the ring was made
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

// canStream says whether this ring can do completion I/O: the kernel's
// feature, and uringStreams not turned off.
func (u *uring) canStream() error {
	if !uringStreams || u.features&uringFeatRegRegRing == 0 {
		return errNoStreams
	}
	return nil
}

// setupStreams registers the provided-buffer ring; without it the
// backend reports readiness only.
func (u *uring) setupStreams(maxBufs int) error {
	if err := u.canStream(); err != nil {
		return err
	}
	count, size := uringBufMax, uringBufSize
	if maxBufs > 0 {
		count = maxBufs
	}
	ring, err := unix.Mmap(-1, 0, count*16, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return err
	}
	mem, err := unix.Mmap(-1, 0, count*size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		unix.Munmap(ring)
		return err
	}
	reg := uringBufReg{ringAddr: uint64(uintptr(unsafe.Pointer(&ring[0]))), ringEntries: uint32(count)}
	if e := u.registerBufRing(uringRegisterPbufRing, &reg); e != 0 {
		unix.Munmap(ring)
		unix.Munmap(mem)
		return fmt.Errorf("IORING_REGISTER_PBUF_RING: %w", e)
	}
	b := &uringBufRing{ring: ring, mem: mem, size: size, mask: uint16(count - 1),
		tailPtr: (*uint32)(unsafe.Pointer(&ring[12])), warm: make([]bool, count),
		min: min(uringBufMin, count), max: count, windowStart: time.Now(), round: 1}
	b.target, b.peakTarget = b.min, b.min
	b.refill()
	u.bufs = b
	u.orphans = make(map[uint64]unsafe.Pointer)
	return nil
}

// post hands buffer id to the kernel.
func (b *uringBufRing) post(id uint16) {
	e := b.ring[int(b.tail&b.mask)*16:]
	*(*uint64)(unsafe.Pointer(&e[0])) = uint64(uintptr(unsafe.Pointer(&b.mem[int(id)*b.size])))
	*(*uint32)(unsafe.Pointer(&e[8])) = uint32(b.size)
	*(*uint16)(unsafe.Pointer(&e[12])) = id
	b.tail++
	bid0 := *(*uint16)(unsafe.Pointer(&b.ring[12]))
	atomic.StoreUint32(b.tailPtr, uint32(bid0)|uint32(b.tail)<<16)
	b.posted++
}

// consumed accounts for buffer id, which a completion carries.
func (b *uringBufRing) consumed(id uint16) {
	b.posted--
	b.warm[id] = true
}

// refill posts buffers up to the target: the most recently used first,
// then ones never used.
func (b *uringBufRing) refill() {
	for b.posted < b.target {
		var id uint16
		if n := len(b.free); n > 0 {
			id = b.free[n-1]
			b.free = b.free[:n-1]
		} else if b.made < b.max {
			id = uint16(b.made)
			b.made++
		} else {
			return // the rest are lent
		}
		b.post(id)
	}
}

// adapt sets the target from this round's use: double when the ring ran
// dry or nearly while fewer than 2 buffers were posted per connection
// receiving (one stream alone would take all there are: it waits for its
// turn instead); halve after a window whose busiest round used at most a
// quarter, with at most a quarter as many connections receiving (so that
// halving cannot call for growing again), dropping the pages of the
// buffers that fell cold.
func (b *uringBufRing) adapt(used int, now time.Time) {
	if (b.starved || b.posted < b.target/8) && b.target < 2*b.active && b.target < b.max {
		b.target = min(2*b.target, b.max)
		b.grew++
		b.peakTarget = max(b.peakTarget, b.target)
		b.peak, b.peakActive, b.windowStart = 0, 0, now
	}
	b.starved = false
	b.peak, b.peakActive = max(b.peak, used), max(b.peakActive, b.active)
	if now.Sub(b.windowStart) < IdleTrim {
		return
	}
	if b.target > b.min && 4*b.peak <= b.target && 4*b.peakActive <= b.target {
		b.target = max(b.target/2, b.min)
		b.shrank++
		b.dropCold(b.target)
	}
	b.peak, b.peakActive, b.windowStart = 0, 0, now
}

// dropCold gives back the pages of the free buffers below the top keep:
// the kernel has none of them, so none is being written.
func (b *uringBufRing) dropCold(keep int) {
	for _, id := range b.free[:max(len(b.free)-keep, 0)] {
		if b.warm[id] {
			off := int(id) * b.size
			unix.Madvise(b.mem[off:off+b.size], unix.MADV_DONTNEED)
			b.warm[id] = false
		}
	}
}

// UringRing reports the provided-buffer ring: on the loop's goroutine.
func (u *uring) UringRing() (UringRing, bool) {
	b := u.bufs
	if b == nil {
		return UringRing{}, false
	}
	return UringRing{Target: b.target, Posted: b.posted, Peak: b.peakTarget, Max: b.max, Grew: b.grew, Shrank: b.shrank}, true
}

func (b *uringBufRing) close() {
	unix.Munmap(b.ring)
	unix.Munmap(b.mem)
}

// releaseOf takes back the buffer a completion carries, if any.
func (u *uring) releaseOf(flags uint32) {
	if flags&uringCQEFBuffer != 0 {
		id := uint16(flags >> 16)
		u.bufs.consumed(id)
		u.bufs.free = append(u.bufs.free, id)
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
	if cqe.res == -int32(unix.ENOBUFS) {
		u.bufs.starved = true
	}
	if s.recvRound != u.bufs.round {
		s.recvRound = u.bufs.round
		u.bufs.active++
	}
	r := Ready{FD: fd, Op: OpRecv, Res: cqe.res, Buf: -1, More: s.recving, Gen: s.gen}
	if cqe.flags&uringCQEFBuffer != 0 {
		id := uint16(cqe.flags >> 16)
		r.Buf = int32(id)
		u.bufs.consumed(id)
		u.bufs.lent = append(u.bufs.lent, id)
	}
	return r
}

// giveBack takes back the buffers lent by the last reap, sets the
// target and refills the ring.
func (u *uring) giveBack() {
	b := u.bufs
	if b == nil {
		return
	}
	if used := len(b.lent); used > 0 {
		b.free = append(b.free, b.lent...)
		b.lent = b.lent[:0]
		b.touched, b.lastLent = true, time.Now()
		b.adapt(used, b.lastLent)
	} else if b.starved {
		b.adapt(0, time.Now())
	}
	b.round++
	b.active = 0
	b.refill()
}

// trimWhenIdle gives the buffers' pages back to the system once no
// receive used them for IdleTrim, as the loop's Buffers do, so an idle
// server holds no receive memory however busy it was. Until then it
// shortens a wait to end when that time comes.
func (u *uring) trimWhenIdle(timeoutMs int) int {
	b := u.bufs
	left := IdleTrim - time.Since(b.lastLent)
	if left <= 0 {
		// The pages refill with zeros on the next receive.
		if !u.dropPages() {
			return timeoutMs
		}
		b.touched = false
		if b.target > b.min {
			b.shrank++
		}
		b.target, b.peak, b.peakActive = b.min, 0, 0
		return timeoutMs
	}
	ms := int(left/time.Millisecond) + 1
	if timeoutMs < 0 || ms < timeoutMs {
		return ms
	}
	return timeoutMs
}

// dropPages gives back the pages of every buffer, posted ones too. A
// receive copies into a posted buffer on this thread (task work), which
// without DEFER_TASKRUN can run at any return to user space, even
// between a look at the completion queue and madvise: the data would be
// zeroed. So the ring is unregistered first (from then on no receive can
// take a buffer; one that tries fails with ENOBUFS and is started again,
// as when the ring runs dry), and the pages go only if no completion came
// before that. The ring is then registered again, empty, and refilled. It
// reports whether the pages went.
func (u *uring) dropPages() bool {
	b := u.bufs
	reg := uringBufReg{ringEntries: uint32(len(b.warm))}
	if u.registerBufRing(uringUnregisterPbufRing, &reg) != 0 {
		return false
	}
	// Buffers that completions not yet reaped carry stay with them
	// (reap accounts for them); every other posted buffer is free again.
	mine := make([]bool, b.made) // free, lent or carried
	held := 0
	for head, tail := *u.cqHead, atomic.LoadUint32(u.cqTail); head != tail; head++ {
		cqe := &u.cqes[head&u.cqMask]
		if kind, _, _, _ := splitUserData(cqe.userData); kind == kindRecv && cqe.userData&uringCancelBit == 0 && cqe.flags&uringCQEFBuffer != 0 {
			mine[cqe.flags>>16] = true
			held++
		}
	}
	for _, id := range b.free {
		mine[id] = true
	}
	for _, id := range b.lent {
		mine[id] = true
	}
	for id := range b.made {
		if !mine[id] {
			b.free = append(b.free, uint16(id))
		}
	}
	b.posted = held
	dropped := held == 0
	if dropped {
		unix.Madvise(b.mem, unix.MADV_DONTNEED)
		clear(b.warm)
	}
	b.tail = 0
	atomic.StoreUint32(b.tailPtr, 0)
	reg.ringAddr = uint64(uintptr(unsafe.Pointer(&b.ring[0])))
	if u.registerBufRing(uringRegisterPbufRing, &reg) != 0 {
		// Cannot happen with the ring registered at the start; without
		// it every receive fails with ENOBUFS and is retried.
		return dropped
	}
	b.refill()
	return dropped
}

// registerBufRing registers (uringRegisterPbufRing) or unregisters
// (uringUnregisterPbufRing) the provided-buffer ring reg describes.
func (u *uring) registerBufRing(op uintptr, reg *uringBufReg) unix.Errno {
	_, _, e := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(u.fd), op, uintptr(unsafe.Pointer(reg)), 1, 0, 0)
	return e
}
