package poll

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The io_uring backend, on raw io_uring_setup/io_uring_enter/io_uring_register
// and mmap'd rings. Readiness comes from IORING_OP_POLL_ADD completions, and
// the polls of a round are submitted by the one io_uring_enter that waits.

// Kernel ABI (include/uapi/linux/io_uring.h).
const (
	uringOpPollAdd    = 6
	uringOpPollRemove = 7

	uringSetupCQSize       = 1 << 3
	uringSetupClamp        = 1 << 4
	uringSetupRDisabled    = 1 << 6
	uringSetupSubmitAll    = 1 << 7
	uringSetupCoopTaskrun  = 1 << 8
	uringSetupTaskrunFlag  = 1 << 9
	uringSetupSingleIssuer = 1 << 12
	uringSetupDeferTaskrun = 1 << 13
	uringSQTaskrun         = 1 << 2 // sq_flags: completion work waits for an enter
	uringFeatNoDrop        = 1 << 1
	uringFeatExtArg        = 1 << 8
	uringFeatCQESkip       = 1 << 11
	uringEnterGetEvents    = 1 << 0
	uringEnterExtArg       = 1 << 3
	uringPollAddMulti      = 1 << 0
	uringSQECQESkipSuccess = 1 << 6
	uringCQEFMore          = 1 << 1

	uringRegisterProbe       = 8
	uringRegisterEnableRings = 12
	uringOpSupported         = 1

	uringOffSQRing = 0
	uringOffCQRing = 0x8000000
	uringOffSQEs   = 0x10000000
)

type uringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	resv                                                                   [3]uint32
	sqOff                                                                  uringSQOffsets
	cqOff                                                                  uringCQOffsets
}

type uringSQOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type uringCQOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

type uringSQE struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	off         uint64
	addr        uint64
	len         uint32
	opFlags     uint32 // poll32_events, msg_flags, ...
	userData    uint64
	bufIndex    uint16
	personality uint16
	fileIndex   int32
	addr3       uint64
	pad         uint64
}

type uringCQE struct {
	userData uint64
	res      int32
	flags    uint32
}

type uringGetEventsArg struct {
	sigmask   uint64
	sigmaskSz uint32
	minWait   uint32
	ts        uint64
}

// uringSetupError names the likely cause of a refused io_uring_setup.
func uringSetupError(e unix.Errno) error {
	switch e {
	case unix.ENOSYS:
		return fmt.Errorf("%w: io_uring_setup: %v (kernel without io_uring: it needs Linux 5.17 or later)", ErrUringUnavailable, e)
	case unix.EPERM, unix.EACCES:
		return fmt.Errorf("%w: io_uring_setup: %v (refused: sysctl kernel.io_uring_disabled, or a seccomp filter such as a container's)", ErrUringUnavailable, e)
	}
	return fmt.Errorf("%w: io_uring_setup: %v", ErrUringUnavailable, e)
}

// uringNeededOps are the opcodes the backend submits.
var uringNeededOps = map[uint8]string{uringOpPollAdd: "POLL_ADD", uringOpPollRemove: "POLL_REMOVE"}

// ProbeUring reports whether this process can run the io_uring backend:
// the ring can be set up, and the kernel has the features and opcodes it
// uses. The error says why not.
func ProbeUring() error {
	u, err := newUring(8)
	if err != nil {
		return err
	}
	return u.Close()
}

// probeUringCompletion is ProbeUring for "auto", which also wants the
// completion I/O of Linux 6.3 (multishot receives into a buffer ring):
// io_uring reporting readiness alone saves no system call over epoll.
func probeUringCompletion() error {
	u, err := newUring(8)
	if err != nil {
		return err
	}
	defer u.Close()
	if err := u.canStream(); err != nil {
		return fmt.Errorf("%w: %v", ErrUringUnavailable, err)
	}
	return nil
}

func setupRing(entries uint32, p *uringParams) (int, error) {
	fd, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(p)), 0)
	if e != 0 {
		return -1, e
	}
	return int(fd), nil
}

func checkRing(fd int, features uint32) error {
	const need = uringFeatNoDrop | uringFeatExtArg | uringFeatCQESkip
	if features&need != need {
		return fmt.Errorf("%w: kernel io_uring lacks features %#x (it needs Linux 5.17 or later)", ErrUringUnavailable, need&^features)
	}
	// io_uring_probe: a 16-byte header, then 8 bytes per opcode.
	var probe [16 + 256*8]byte
	_, _, e := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(fd), uringRegisterProbe, uintptr(unsafe.Pointer(&probe[0])), 256, 0, 0)
	if e != 0 {
		return fmt.Errorf("%w: IORING_REGISTER_PROBE: %v", ErrUringUnavailable, e)
	}
	lastOp := probe[0]
	for op, name := range uringNeededOps {
		if op > lastOp || probe[16+int(op)*8+2]&uringOpSupported == 0 {
			return fmt.Errorf("%w: kernel io_uring lacks opcode %s", ErrUringUnavailable, name)
		}
	}
	return nil
}

// uringFD is the backend's state of one descriptor.
type uringFD struct {
	gen       uint16 // bumped at every registration: completions of a closed namesake differ
	pollSeq   uint8  // bumped at every poll removal: its late completions differ
	recvSeq   uint8  // bumped at every receive armed
	in        Interest
	added     bool
	armed     bool           // a poll is in flight
	multishot bool           // the poll in flight is multishot
	stream    bool           // reads and writes go through the ring (uring_stream_linux.go)
	recving   bool           // a multishot receive is in flight
	sending   bool           // a send is in flight, from sendBuf
	recvRound uint32         // the buffer ring's round of its last receive completion
	sendBuf   unsafe.Pointer // keeps the bytes it sends alive
}

// uring implements Poller. A descriptor watched for reading gets one-shot
// polls, re-armed at the next Wait: a poll armed on a ready socket
// completes at once, which is level triggering. One watched only for
// writing or errors gets a multishot poll instead: io_uring always
// reports the peer's half-close, which one-shot polls would then report
// at every round, and flush writes until EAGAIN, so edges suffice.
type uring struct {
	fd       int
	ringMem  []byte
	cqMem    []byte // nil when the kernel maps both rings at once
	sqeMem   []byte
	sqHead   *uint32
	sqTail   *uint32
	sqMask   uint32
	sqCap    uint32
	sqes     []uringSQE
	cqHead   *uint32
	cqTail   *uint32
	cqMask   uint32
	cqes     []uringCQE
	tail     uint32 // our SQ tail, published at submit
	pending  uint32
	fds      []uringFD
	rearm    []int32
	ts       unix.Timespec
	arg      uringGetEventsArg
	features uint32
	mode     uint32        // the optional setup flags the kernel took: one of uringSetupModes
	sqFlags  *uint32       // the kernel's sq_flags (uringSQTaskrun)
	disabled bool          // R_DISABLED, until the first enter
	bufs     *uringBufRing // nil: readiness only (uring_stream_linux.go)
	recvs    []Ready       // reap's receive completions, put last
	// orphans keeps the buffers of sends still in flight when their
	// descriptor closed, until their completion: the kernel reads them.
	orphans map[uint64]unsafe.Pointer
}

// uringSQEntries sizes the submission queue; the completion queue has 8
// times as many entries (and the kernel keeps any overflow).
const uringSQEntries = 1024

// user_data: the descriptor, its registration, a sequence number within
// it, and what the operation was.
const (
	kindPoll uint64 = iota
	kindRecv
	kindSend

	// uringCancelBit marks a cancellation's own completion, the rest of
	// its user_data being the target's.
	uringCancelBit = 1 << 63
)

func userData(kind uint64, fd int, gen uint16, seq uint8) uint64 {
	return kind<<56 | uint64(seq)<<48 | uint64(gen)<<32 | uint64(uint32(fd))
}

func splitUserData(ud uint64) (kind uint64, fd int32, gen uint16, seq uint8) {
	return ud >> 56, int32(uint32(ud)), uint16(ud >> 32), uint8(ud >> 48)
}

// uringSetupModes are the optional setup flags, best first; a kernel
// without one refuses it with EINVAL and the next is tried. A receive
// completed by another thread (a loopback sender delivering to one of
// our sockets) leaves work that must run on the loop's thread: by
// default the kernel interrupts the loop for it at once (an IPI, costly
// in a VM); COOP_TASKRUN (Linux 5.19) lets it wait for the loop's next
// system call, and DEFER_TASKRUN (6.1, with SINGLE_ISSUER) for its next
// io_uring_enter that reaps, where a whole round's receives run in one
// go. TASKRUN_FLAG says in the ring when such work waits, so a round
// that does not block knows to enter for it. R_DISABLED leaves the ring
// unowned until its first enter (enter): the loop's thread, not the one
// that made the loop.
var uringSetupModes = []uint32{
	uringSetupSubmitAll | uringSetupTaskrunFlag | uringSetupDeferTaskrun | uringSetupSingleIssuer | uringSetupRDisabled,
	uringSetupSubmitAll | uringSetupTaskrunFlag | uringSetupCoopTaskrun,
	uringSetupSubmitAll,
	0,
}

func newUring(entries uint32) (*uring, error) {
	var p uringParams
	var mode uint32
	fd, err := -1, error(unix.EINVAL)
	for _, mode = range uringSetupModes {
		p = uringParams{flags: uringSetupCQSize | uringSetupClamp | mode, cqEntries: 8 * entries}
		if fd, err = setupRing(entries, &p); err != unix.EINVAL {
			break
		}
	}
	if err != nil {
		return nil, uringSetupError(err.(unix.Errno))
	}
	u := &uring{fd: fd, features: p.features, mode: mode, disabled: mode&uringSetupRDisabled != 0}
	if err := checkRing(fd, p.features); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := u.mapRings(&p); err != nil {
		u.Close()
		return nil, fmt.Errorf("%w: mmap: %v", ErrUringUnavailable, err)
	}
	return u, nil
}

// newUringStreams is newUring doing connections' reads and writes too,
// where the kernel can, with at most maxBufs receive buffers (0: the
// default).
func newUringStreams(entries uint32, maxBufs int) (*uring, error) {
	if maxBufs != 0 && !ValidUringBuffers(maxBufs) {
		return nil, fmt.Errorf("io_uring buffers %d: want a power of two from %d to %d", maxBufs, minUringBuffers, maxUringBuffers)
	}
	u, err := newUring(entries)
	if err == nil {
		u.setupStreams(maxBufs) // else readiness only
	}
	return u, err
}

// uringStreams turns completion I/O on; tests compare with readiness only.
var uringStreams = true

func (u *uring) mapRings(p *uringParams) error {
	sqSize := int(p.sqOff.array + p.sqEntries*4)
	cqSize := int(p.cqOff.cqes + p.cqEntries*uint32(unsafe.Sizeof(uringCQE{})))
	const featSingleMmap = 1 << 0
	single := p.features&featSingleMmap != 0
	if single {
		sqSize = max(sqSize, cqSize)
	}
	var err error
	u.ringMem, err = unix.Mmap(u.fd, uringOffSQRing, sqSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return err
	}
	cq := u.ringMem
	if !single {
		if u.cqMem, err = unix.Mmap(u.fd, uringOffCQRing, cqSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
			return err
		}
		cq = u.cqMem
	}
	sqeSize := int(p.sqEntries) * int(unsafe.Sizeof(uringSQE{}))
	if u.sqeMem, err = unix.Mmap(u.fd, uringOffSQEs, sqeSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		return err
	}
	sq := u.ringMem
	u.sqHead = (*uint32)(unsafe.Pointer(&sq[p.sqOff.head]))
	u.sqTail = (*uint32)(unsafe.Pointer(&sq[p.sqOff.tail]))
	u.sqFlags = (*uint32)(unsafe.Pointer(&sq[p.sqOff.flags]))
	u.sqMask = *(*uint32)(unsafe.Pointer(&sq[p.sqOff.ringMask]))
	u.sqCap = p.sqEntries
	// The index array maps ring slots to SQEs one to one, once for all.
	array := unsafe.Slice((*uint32)(unsafe.Pointer(&sq[p.sqOff.array])), p.sqEntries)
	for i := range array {
		array[i] = uint32(i)
	}
	u.sqes = unsafe.Slice((*uringSQE)(unsafe.Pointer(&u.sqeMem[0])), p.sqEntries)
	u.tail = atomic.LoadUint32(u.sqTail)
	u.cqHead = (*uint32)(unsafe.Pointer(&cq[p.cqOff.head]))
	u.cqTail = (*uint32)(unsafe.Pointer(&cq[p.cqOff.tail]))
	u.cqMask = *(*uint32)(unsafe.Pointer(&cq[p.cqOff.ringMask]))
	u.cqes = unsafe.Slice((*uringCQE)(unsafe.Pointer(&cq[p.cqOff.cqes])), p.cqEntries)
	return nil
}

func (u *uring) Name() string { return "io_uring" }

func (u *uring) Close() error {
	err := unix.Close(u.fd)
	if u.bufs != nil {
		u.bufs.close()
	}
	for _, m := range [][]byte{u.sqeMem, u.cqMem, u.ringMem} {
		if m != nil {
			unix.Munmap(m)
		}
	}
	u.sqeMem, u.cqMem, u.ringMem = nil, nil, nil
	return err
}

// sqe returns a zeroed submission entry, submitting the full ring first
// when it has no room (rare: one extra system call).
func (u *uring) sqe() *uringSQE {
	if u.tail-atomic.LoadUint32(u.sqHead) >= u.sqCap {
		u.enter(0, 0, nil)
	}
	e := &u.sqes[u.tail&u.sqMask]
	*e = uringSQE{}
	u.tail++
	u.pending++
	return e
}

// enter publishes the SQ tail and calls io_uring_enter, submitting what is
// pending and waiting for minComplete completions up to ts (nil: forever).
func (u *uring) enter(minComplete uint32, flags uintptr, ts *unix.Timespec) error {
	if u.disabled {
		// SINGLE_ISSUER: the thread enabling the ring is the only one
		// that may enter it from then on (Loop.Run locks its thread).
		if _, _, e := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(u.fd), uringRegisterEnableRings, 0, 0, 0, 0); e != 0 {
			return fmt.Errorf("io_uring: enabling the ring: %w", e)
		}
		u.disabled = false
	}
	atomic.StoreUint32(u.sqTail, u.tail)
	var arg, argSz uintptr
	if minComplete > 0 {
		flags |= uringEnterGetEvents | uringEnterExtArg
		u.arg = uringGetEventsArg{}
		if ts != nil {
			u.arg.ts = uint64(uintptr(unsafe.Pointer(ts)))
		}
		arg, argSz = uintptr(unsafe.Pointer(&u.arg)), unsafe.Sizeof(u.arg)
	}
	n, _, e := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(u.fd), uintptr(u.pending), uintptr(minComplete), flags, arg, argSz)
	if e == 0 || e == unix.ETIME || e == unix.EINTR {
		// With SUBMIT_ALL (or without errors) everything was consumed;
		// ETIME and EINTR come after submission.
		if e == 0 {
			u.pending -= min(uint32(n), u.pending)
		} else {
			u.pending = u.tail - atomic.LoadUint32(u.sqHead)
		}
		return nil
	}
	if e == unix.EAGAIN || e == unix.EBUSY {
		u.pending = u.tail - atomic.LoadUint32(u.sqHead)
		return nil // the completion queue is full: reap, then retry
	}
	if e == unix.EEXIST && u.mode&uringSetupSingleIssuer != 0 {
		return fmt.Errorf("io_uring: entered from a second thread; a loop must run on one OS thread: %w", e)
	}
	return e
}

// workWaiting says completion work waits for an enter (COOP_TASKRUN and
// DEFER_TASKRUN): a round that would not otherwise enter must, to see it.
func (u *uring) workWaiting() bool {
	return u.mode&uringSetupTaskrunFlag != 0 && atomic.LoadUint32(u.sqFlags)&uringSQTaskrun != 0
}

func (u *uring) state(fd int) *uringFD {
	for fd >= len(u.fds) {
		u.fds = append(u.fds, uringFD{})
	}
	return &u.fds[fd]
}

func (u *uring) arm(fd int, s *uringFD, in Interest) {
	e := u.sqe()
	e.opcode = uringOpPollAdd
	e.fd = int32(fd)
	e.opFlags = uint32(pollEvents(in)) // POLL_ADD takes poll(2)'s bits
	e.userData = userData(kindPoll, fd, s.gen, s.pollSeq)
	s.multishot = in&Readable == 0
	if s.multishot {
		e.len = uringPollAddMulti
	}
	s.armed = true
}

func (u *uring) disarm(fd int, s *uringFD) {
	if s.armed {
		u.cancel(userData(kindPoll, fd, s.gen, s.pollSeq))
		s.armed = false
	}
	s.pollSeq++
}

// cancel removes the poll, receive or send target. Its completion comes
// only when it failed: EALREADY says the target was being completed at
// that moment and goes on (a multishot one for ever, holding its socket
// open), so the cancellation is sent again.
func (u *uring) cancel(target uint64) {
	e := u.sqe()
	e.opcode = uringOpAsyncCancel
	if target>>56 == kindPoll {
		e.opcode = uringOpPollRemove
	}
	e.fd = -1
	e.addr = target
	e.flags = uringSQECQESkipSuccess
	e.userData = target | uringCancelBit
}

func (u *uring) Add(fd int, in Interest) error {
	s := u.state(fd)
	if s.added {
		return unix.EEXIST
	}
	*s = uringFD{gen: s.gen + 1, added: true, in: in}
	u.arm(fd, s, in)
	return nil
}

func (u *uring) Mod(fd int, in Interest) error {
	if fd >= len(u.fds) || !u.fds[fd].added {
		return unix.ENOENT
	}
	s := &u.fds[fd]
	if s.stream {
		u.modStream(fd, s, in)
		return nil
	}
	if s.in == in && s.armed {
		return nil
	}
	u.disarm(fd, s)
	s.in = in
	u.arm(fd, s, in)
	return nil
}

func (u *uring) Del(fd int) error {
	if fd >= len(u.fds) || !u.fds[fd].added {
		return unix.ENOENT
	}
	s := &u.fds[fd]
	u.disarm(fd, s)
	if s.stream {
		u.cancelAll(fd, s)
	}
	s.added, s.in, s.stream = false, 0, false
	return nil
}

// Closing removes the poll: it holds a reference to the socket, which
// would otherwise stay open after close(2). The removal goes out with the
// next Wait, in the same round.
func (u *uring) Closing(fd int) { u.Del(fd) }

func (u *uring) Wait(out []Ready, timeoutMs int) (int, error) {
	u.giveBack()
	if u.bufs != nil && u.bufs.touched && timeoutMs != 0 && atomic.LoadUint32(u.cqTail) == *u.cqHead && !u.workWaiting() {
		timeoutMs = u.trimWhenIdle(timeoutMs)
	}
	for _, fd := range u.rearm {
		if s := &u.fds[fd]; s.added && !s.armed && !s.stream {
			u.arm(int(fd), s, s.in)
		}
	}
	u.rearm = u.rearm[:0]
	var err error
	if atomic.LoadUint32(u.cqTail) != *u.cqHead || timeoutMs == 0 {
		if u.workWaiting() {
			err = u.enter(0, uringEnterGetEvents, nil)
		} else if u.pending > 0 {
			err = u.enter(0, 0, nil)
		}
	} else if timeoutMs < 0 {
		err = u.enter(1, 0, nil)
	} else {
		u.ts = unix.NsecToTimespec(int64(timeoutMs) * 1e6)
		err = u.enter(1, 0, &u.ts)
	}
	if err != nil {
		return 0, err
	}
	return u.reap(out), nil
}

// reap turns completions into Ready entries, at most len(out); the rest
// wait in the completion queue for the next Wait.
func (u *uring) reap(out []Ready) int {
	head := *u.cqHead
	tail := atomic.LoadUint32(u.cqTail)
	n := 0
	for ; head != tail && n < len(out); head++ {
		k := n - len(u.recvs) // where the next entry that is not a receive goes
		cqe := &u.cqes[head&u.cqMask]
		if cqe.userData&uringCancelBit != 0 {
			if cqe.res == -int32(unix.EALREADY) {
				u.cancel(cqe.userData &^ uringCancelBit)
			}
			continue
		}
		kind, fd, gen, seq := splitUserData(cqe.userData)
		var s *uringFD
		if int(fd) < len(u.fds) && u.fds[fd].added && u.fds[fd].gen == gen {
			s = &u.fds[fd]
		}
		switch kind {
		case kindRecv:
			if s == nil { // its descriptor closed meanwhile
				u.releaseOf(cqe.flags)
				continue
			}
			// After the round's other entries: a socket both drained and
			// readable gets its Drain first, as epoll's ready order gives,
			// so a handler pausing in Drain holds the input.
			u.recvs = append(u.recvs, u.received(fd, s, seq, cqe))
			n++
		case kindSend:
			if s == nil {
				delete(u.orphans, cqe.userData)
				continue
			}
			s.sending, s.sendBuf = false, nil
			out[k] = Ready{FD: fd, Op: OpSent, Res: cqe.res, Buf: -1, Gen: gen}
			n++
		case kindPoll:
			if s == nil || !s.armed || s.pollSeq != seq {
				continue // from a poll removed since
			}
			if !s.multishot || cqe.flags&uringCQEFMore == 0 {
				s.armed = false
				u.rearm = append(u.rearm, fd)
			}
			in := s.in
			if s.stream {
				in = 0 // the poll of a stream watches hang-up and errors only
			}
			if r, ok := pollReady(fd, in, cqe.res); ok {
				out[k] = r
				n++
			}
		}
	}
	atomic.StoreUint32(u.cqHead, head)
	k := n - len(u.recvs)
	copy(out[k:n], u.recvs)
	clear(u.recvs)
	u.recvs = u.recvs[:0]
	return n
}

func pollReady(fd int32, in Interest, res int32) (Ready, bool) {
	if res < 0 {
		if res == -int32(unix.ECANCELED) {
			return Ready{}, false
		}
		// The poll itself failed (EBADF...): let a read say why.
		return Ready{FD: fd, Readable: true, Hangup: true, Buf: -1}, true
	}
	ev := uint32(res)
	hup := ev&(unix.POLLHUP|unix.POLLERR) != 0
	r := Ready{
		FD:       fd,
		Readable: hup || (in&Readable != 0 && ev&(unix.POLLIN|unix.POLLRDHUP) != 0),
		Writable: in&Writable != 0 && ev&unix.POLLOUT != 0,
		Hangup:   hup,
		Buf:      -1,
	}
	return r, r.Readable || r.Writable
}
