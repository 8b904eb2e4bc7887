package poll

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Interest is the set of readiness kinds a descriptor is watched for.
type Interest uint8

const (
	Readable Interest = 1 << iota
	Writable
)

// Ready is one descriptor's readiness as reported by a Poller.
type Ready struct {
	FD       int32
	Readable bool // includes hang-up and error: a read reports which
	Writable bool
	Hangup   bool // hang-up or error, reported even without read interest

	// From a backend doing the I/O itself (streamer): the outcome of a
	// receive or a send, Res bytes or a negative errno.
	Op   IOOp
	More bool   // OpRecv: the receive goes on
	Gen  uint16 // the registration it belongs to (AddStream)
	Buf  int32  // OpRecv: the buffer holding the bytes, -1 none
	Res  int32
}

// IOOp says which operation a completion-based Ready reports.
type IOOp uint8

const (
	OpNone IOOp = iota // readiness
	OpRecv
	OpSent
)

// streamer is a backend that reads and writes connections itself
// (io_uring): the loop asks, and the outcome comes back from Wait.
type streamer interface {
	// Streaming reports whether the kernel lets it (else readiness only).
	Streaming() bool
	// AddStream registers a connected socket; the result marks its completions.
	AddStream(fd int, in Interest) (uint16, error)
	// Stream switches a socket registered with Add to completions.
	Stream(fd int) uint16
	// Send writes p, untouched until its OpSent: one at a time per socket.
	Send(fd int, p []byte)
	// Buffer is an OpRecv's bytes, valid until the next Wait.
	Buffer(id int32, n int) []byte
}

// Poller is the small interface both backends implement. It is level-triggered.
type Poller interface {
	Add(fd int, in Interest) error
	Mod(fd int, in Interest) error
	Del(fd int) error
	// Closing forgets fd just before it is closed. epoll needs no call:
	// closing a descriptor (never duplicated here) removes it.
	Closing(fd int)
	// Wait blocks up to timeoutMs (-1: forever) and fills out; EINTR is not an error.
	Wait(out []Ready, timeoutMs int) (int, error)
	Close() error
	Name() string
}

// NewPoller returns the backend by name: "epoll" (Linux), "io_uring"
// (Linux), "poll", or "auto" (see ResolvePoller); "" is DefaultPoller.
func NewPoller(name string) (Poller, error) {
	return newPoller(Config{Poller: name})
}

func newPoller(cfg Config) (Poller, error) {
	name := cfg.Poller
	if name == "" {
		name = DefaultPoller
	}
	if name == "auto" {
		name, _, _ = ResolvePoller(name)
	}
	switch name {
	case "epoll":
		return newEpoll()
	case "io_uring":
		return newUringStreams(uringSQEntries, cfg.UringBuffers)
	case "poll":
		return newPollFD(), nil
	}
	return nil, fmt.Errorf("unknown poller %q (want epoll, io_uring, auto or poll)", name)
}

// DefaultUringBuffers is the most receive buffers an io_uring loop posts
// (64 MiB of address space at 16 KiB each, touched only as load needs).
const DefaultUringBuffers = 4096

// The bounds of Config.UringBuffers: the kernel's buffer ring holds at
// most 32768 entries.
const (
	minUringBuffers = 16
	maxUringBuffers = 32768
)

// ValidUringBuffers reports whether n can be Config.UringBuffers.
func ValidUringBuffers(n int) bool {
	return n >= minUringBuffers && n <= maxUringBuffers && n&(n-1) == 0
}

// ErrUringUnavailable wraps every reason the io_uring backend cannot run.
var ErrUringUnavailable = errors.New("io_uring unavailable")

// ResolvePoller turns "auto" into io_uring when the kernel allows it and
// has its completion I/O (probeUringCompletion), and into DefaultPoller
// when not, with fallback saying why. "io_uring" comes back as it is if
// ProbeUring succeeds, or with err naming the cause. Other names pass
// unchanged.
func ResolvePoller(name string) (resolved string, fallback, err error) {
	switch name {
	case "auto":
		if err := probeUringCompletion(); err != nil {
			return DefaultPoller, err, nil
		}
		return "io_uring", nil, nil
	case "io_uring":
		if err := ProbeUring(); err != nil {
			return "", nil, err
		}
	}
	return name, nil, nil
}

// pollFD is the portable poll(2) backend (the only one off Linux): a slice of pollfd plus an index by fd.
type pollFD struct {
	fds   []unix.PollFd
	index map[int32]int
}

func newPollFD() *pollFD { return &pollFD{index: make(map[int32]int)} }

func (p *pollFD) Name() string { return "poll" }

func pollEvents(in Interest) int16 {
	var ev int16
	if in&Readable != 0 {
		ev |= unix.POLLIN | pollRDHUP
	}
	if in&Writable != 0 {
		ev |= unix.POLLOUT
	}
	return ev
}

func (p *pollFD) Add(fd int, in Interest) error {
	if _, ok := p.index[int32(fd)]; ok {
		return unix.EEXIST
	}
	p.index[int32(fd)] = len(p.fds)
	p.fds = append(p.fds, unix.PollFd{Fd: int32(fd), Events: pollEvents(in)})
	return nil
}

func (p *pollFD) Mod(fd int, in Interest) error {
	i, ok := p.index[int32(fd)]
	if !ok {
		return unix.ENOENT
	}
	p.fds[i].Events = pollEvents(in)
	return nil
}

func (p *pollFD) Closing(fd int) { p.Del(fd) }

func (p *pollFD) Del(fd int) error {
	i, ok := p.index[int32(fd)]
	if !ok {
		return unix.ENOENT
	}
	last := len(p.fds) - 1
	if i != last {
		p.fds[i] = p.fds[last]
		p.index[p.fds[i].Fd] = i
	}
	p.fds = p.fds[:last]
	delete(p.index, int32(fd))
	return nil
}

func (p *pollFD) Wait(out []Ready, timeoutMs int) (int, error) {
	for i := range p.fds {
		p.fds[i].Revents = 0
	}
	_, err := unix.Poll(p.fds, timeoutMs)
	if err == unix.EINTR {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range p.fds {
		re := p.fds[i].Revents
		if re == 0 {
			continue
		}
		if n == len(out) {
			break // the rest stay ready and show up next round
		}
		out[n] = Ready{
			FD:       p.fds[i].Fd,
			Readable: re&(unix.POLLIN|pollRDHUP|unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0,
			Writable: re&unix.POLLOUT != 0,
			Hangup:   re&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0,
		}
		n++
	}
	return n, nil
}

func (p *pollFD) Close() error { return nil }
