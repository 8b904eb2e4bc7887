package poll

import (
	"errors"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Config sizes the loop. Zero fields take the defaults below.
type Config struct {
	Poller         string        // "epoll", "io_uring", "auto" or "poll"; "" is DefaultPoller
	ReadBuffer     int           // size of the loop's one read buffer
	HighWater      int           // queued bytes above which Write reports false
	LowWater       int           // queued bytes at or below which Drain fires again
	MaxQueued      int           // queued bytes above which a connection is dropped
	LingerTimeout  time.Duration // how long a closing connection may take to flush and see the peer's FIN
	AcceptPause    time.Duration // accept back-off after EMFILE/ENFILE
	ReadsPerRound  int           // reads of one connection per round when the buffer fills, for fairness
	AcceptPerRound int           // accepts per listener per round, for fairness
	Logger         *slog.Logger
	// Quiet runs on the loop when it drops its kept buffers after
	// IdleTrim without a send: the server has gone quiet.
	Quiet func()

	// FlushDelay is the least time between two writes of output queued
	// under HoldWrites to one connection, so that the messages it gets
	// meanwhile leave in one write; 0 writes it at the end of the round
	// like any other output.
	FlushDelay time.Duration

	// YieldBeforeWait: after a round that found work, give the CPU to
	// whatever else is runnable on it (sched_yield) and poll once more
	// without blocking before the loop blocks. For loops that share their
	// CPUs with other busy threads (as many loops as CPUs, and the
	// clients or other processes on top): the thread that would have woken
	// the loop runs first and the loop then finds its work without a
	// sleep and a wake-up. See docs/PERFORMANCE.md, "Two workers on two
	// cores".
	YieldBeforeWait bool

	// UringBuffers is the most receive buffers (16 KiB each) the io_uring
	// backend posts, a power of two from 16 to 32768; 0 is
	// DefaultUringBuffers. Only what load needs is ever touched.
	UringBuffers int
}

const (
	DefaultReadBuffer     = 64 << 10
	DefaultHighWater      = 1 << 20
	DefaultLowWater       = 256 << 10
	DefaultMaxQueued      = 64 << 20
	DefaultLingerTimeout  = 2 * time.Second
	DefaultAcceptPause    = 100 * time.Millisecond
	DefaultReadsPerRound  = 4
	DefaultAcceptPerRound = 256
)

// YieldEvery is how often a busy Run yields to the Go scheduler. The
// runtime's sysmon preempts a goroutine that has not been through the
// scheduler for 10 ms; the loop's goroutine never is (it waits in
// epoll_wait, not in the scheduler), so under load sysmon kept finding it
// "long-running", mostly inside a system call, took its P away and then
// polled every 20 µs for a millisecond or more: about 2,000 sysmon wake-ups
// a second and a P handoff each time. One Gosched every 8 ms (a handoff
// to the locked thread and back: two futex wake-ups) keeps sysmon asleep.
const YieldEvery = 8 * time.Millisecond

func (c *Config) setDefaults() {
	if c.ReadBuffer <= 0 {
		c.ReadBuffer = DefaultReadBuffer
	}
	if c.HighWater <= 0 {
		c.HighWater = DefaultHighWater
	}
	if c.MaxQueued <= 0 {
		c.MaxQueued = DefaultMaxQueued
	}
	if c.HighWater > c.MaxQueued {
		c.HighWater = c.MaxQueued
	}
	if c.LowWater <= 0 || c.LowWater > c.HighWater {
		c.LowWater = min(DefaultLowWater, c.HighWater/4)
	}
	if c.LingerTimeout <= 0 {
		c.LingerTimeout = DefaultLingerTimeout
	}
	if c.AcceptPause <= 0 {
		c.AcceptPause = DefaultAcceptPause
	}
	if c.ReadsPerRound <= 0 {
		c.ReadsPerRound = DefaultReadsPerRound
	}
	if c.AcceptPerRound <= 0 {
		c.AcceptPerRound = DefaultAcceptPerRound
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// owner is whatever holds a descriptor registered with the loop.
type owner interface {
	ready(r Ready)
}

// Loop is one event loop. Every method except Post and Wake must be called
// from the goroutine running Run.
type Loop struct {
	cfg    Config
	poller Poller
	owners []owner // indexed by fd
	ready  []Ready
	buf    []byte // the one read buffer
	now    time.Time
	timers timerHeap
	dirty  []*Conn // connections with output queued this round
	bufs   Buffers // output queues, and WebSocket messages via Buffers()
	// bufTrim drops the kept buffers once they go unused (IdleTrim).
	bufTrim *Timer
	conns   int
	stats   Stats

	// cio does the connections' reads and writes when the backend can
	// (io_uring); nil: readiness, and read(2)/write(2) here.
	cio streamer

	listeners     []*Listener
	acceptPaused  bool
	acceptLogged  bool
	acceptFails   int64 // accepts that failed with EMFILE, ENFILE, ENOBUFS, ENOMEM
	acceptResumer *Timer

	wakeFD      int // read end: an eventfd on Linux, a pipe elsewhere
	wakeWriteFD int // the same eventfd, or the pipe's write end
	wakeSet     atomic.Bool
	tasksMu     sync.Mutex
	tasks       []func()
	running     []func()
	stopping    bool

	// HoldWrites: connections whose output waits for holdTimer.
	epoch     time.Time // Conn.flushedAt counts from it
	holding   bool
	held      []*Conn
	holdTimer *Timer
	holdStats HoldStats

	yielded time.Time // when Run last yielded to the scheduler

	// Config.YieldBeforeWait: how many poller events the last round had.
	lastReady int
}

// NewLoop creates the poller and the wake-up descriptor.
func NewLoop(cfg Config) (*Loop, error) {
	cfg.setDefaults()
	p, err := newPoller(cfg)
	if err != nil {
		return nil, err
	}
	wfd, wwfd, err := newWaker()
	if err != nil {
		p.Close()
		return nil, err
	}
	l := &Loop{cfg: cfg, poller: p, ready: make([]Ready, 1024), buf: make([]byte, cfg.ReadBuffer),
		wakeFD: wfd, wakeWriteFD: wwfd, now: time.Now()}
	l.epoch = l.now
	if err := l.register(wfd, wakeOwner{l}, Readable); err != nil {
		p.Close()
		l.closeWaker()
		return nil, err
	}
	l.bufs.onKeep = l.armBufferTrim
	l.holdTimer = &Timer{fn: l.releaseHeld, loop: l, index: -1}
	if s, ok := p.(streamer); ok && s.Streaming() {
		l.cio = s
	}
	return l, nil
}

// Stats counts the loop's system calls, to measure the cost per message
// (tests and benchmarks read them).
type Stats struct {
	Rounds, Reads, Writes int64
	Yields                int64 // runtime.Gosched calls by Run (YieldEvery)
	WaitYields            int64 // sched_yield calls before a wait (Config.YieldBeforeWait)
}

// PollerName is "epoll", "io_uring" or "poll".
func (l *Loop) PollerName() string { return l.poller.Name() }

// Now is the time the current round started.
func (l *Loop) Now() time.Time { return l.now }

// AcceptFailures counts accepts that failed for lack of descriptors or
// memory: each paused accepting, the peer waiting in the backlog.
func (l *Loop) AcceptFailures() int64 { return l.acceptFails }

// UringRing is an io_uring loop's provided-buffer ring (--uring-buffers).
type UringRing struct {
	Target int   // buffers it keeps posted now
	Posted int   // of them, in the kernel's ring at this instant
	Peak   int   // the highest Target since the loop started
	Max    int   // the most it may post: --uring-buffers
	Grew   int64 // times Target doubled, receives having run it dry
	Shrank int64 // times Target fell: halved after a quiet window, or back to the least when idle
}

// UringRing reads the loop's buffer ring, on the loop's goroutine; ok is
// false unless the loop does completion I/O on io_uring.
func (l *Loop) UringRing() (r UringRing, ok bool) {
	if u, is := l.poller.(interface{ UringRing() (UringRing, bool) }); is {
		return u.UringRing()
	}
	return UringRing{}, false
}

// Conns is the number of connections whose descriptor is still open.
func (l *Loop) Conns() int { return l.conns }

func (l *Loop) register(fd int, o owner, in Interest) error {
	if err := l.poller.Add(fd, in); err != nil {
		return err
	}
	for fd >= len(l.owners) {
		l.owners = append(l.owners, nil)
	}
	l.owners[fd] = o
	return nil
}

func (l *Loop) unregister(fd int) {
	l.poller.Del(fd)
	l.forget(fd)
}

// closing unregisters fd that is about to be closed.
func (l *Loop) closing(fd int) {
	l.poller.Closing(fd)
	l.forget(fd)
}

func (l *Loop) forget(fd int) {
	if fd < len(l.owners) {
		l.owners[fd] = nil
	}
}

// Post hands fn to the loop from any goroutine; it runs in a later round.
func (l *Loop) Post(fn func()) {
	l.tasksMu.Lock()
	l.tasks = append(l.tasks, fn)
	l.tasksMu.Unlock()
	l.Wake()
}

// Wake interrupts a blocked Wait. Safe from any goroutine.
func (l *Loop) Wake() {
	if l.wakeSet.Swap(true) {
		return
	}
	var one = [8]byte{1}
	unix.Write(l.wakeWriteFD, one[:])
}

type wakeOwner struct{ l *Loop }

func (w wakeOwner) ready(Ready) {
	l := w.l
	var b [8]byte
	unix.Read(l.wakeFD, b[:])
	l.wakeSet.Store(false)
	l.tasksMu.Lock()
	l.running, l.tasks = l.tasks, l.running[:0]
	l.tasksMu.Unlock()
	for i, fn := range l.running {
		l.running[i] = nil
		fn()
	}
}

// Stop makes Run return after the current round.
func (l *Loop) Stop() { l.stopping = true }

// Run polls until Stop. It returns only on Stop or a poller failure.
// It keeps to one OS thread: the io_uring backend's ring may be entered
// by one thread only.
func (l *Loop) Run() error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for !l.stopping {
		if l.now.Sub(l.yielded) >= YieldEvery {
			l.yielded = l.now
			l.stats.Yields++
			runtime.Gosched()
		}
		timeout := l.waitTimeout()
		// Config.YieldBeforeWait: once per busy spell, yield and poll
		// without blocking; a round that then finds nothing blocks.
		if timeout != 0 && l.cfg.YieldBeforeWait && l.lastReady > 0 {
			l.stats.WaitYields++
			schedYield()
			timeout = 0
		}
		if err := l.Round(timeout); err != nil {
			return err
		}
	}
	return nil
}

// Round is one turn of the loop: wait up to timeoutMs for readiness,
// dispatch it, fire due timers, then write what the round queued.
// Called without Run, every call must come from one OS thread
// (runtime.LockOSThread), as Run's do.
func (l *Loop) Round(timeoutMs int) error {
	n, err := l.poller.Wait(l.ready, timeoutMs)
	if err != nil {
		return err
	}
	l.now = time.Now()
	l.stats.Rounds++
	l.lastReady = n
	for i := 0; i < n; i++ {
		r := l.ready[i]
		if int(r.FD) < len(l.owners) {
			if o := l.owners[r.FD]; o != nil {
				o.ready(r)
			}
		}
	}
	l.runTimers()
	l.flush()
	return nil
}

// Close releases the poller and wake descriptor; connections must be gone.
func (l *Loop) Close() error {
	for _, ln := range l.listeners {
		ln.Close()
	}
	for _, o := range l.owners {
		if c, ok := o.(*Conn); ok {
			c.finish()
		}
	}
	l.closeWaker()
	return l.poller.Close()
}

// flush writes the output gathered this round: one write per connection.
func (l *Loop) flush() {
	n := len(l.dirty)
	for i := 0; i < n; i++ {
		c := l.dirty[i]
		l.dirty[i] = nil
		c.dirty = false
		c.flush()
	}
	// Writes made by Drain callbacks during the flush wait for the next round.
	rest := copy(l.dirty, l.dirty[n:])
	clear(l.dirty[rest:])
	l.dirty = l.dirty[:rest]
}

// HoldWrites(true) makes what is written from then on keep
// Config.FlushDelay between two writes to a connection: output for one
// written to less than that long ago waits until then, so the messages
// it gets meanwhile leave in one system call; output for one not
// written to that long goes at the end of the round, as always, so a
// message after a quiet spell is not delayed. HoldWrites(false) ends
// that. Held output stays in the connection's queue, counted by Queued,
// Write's answer and MaxQueued as any other; a write made without
// holding, Close, or the delay's end writes it with everything queued
// before it, in order.
func (l *Loop) HoldWrites(on bool) { l.holding = on && l.cfg.FlushDelay > 0 }

// HoldStats counts held writes: Held connections were made to wait (once
// per delay), Released of them were written when the delay ended (the
// others went out earlier, with a write that did not wait, or were
// closed), and Windows delays were started.
type HoldStats struct{ Held, Released, Windows int64 }

// HoldStats is the loop's count of held writes since it started.
func (l *Loop) HoldStats() HoldStats { return l.holdStats }

// hold queues c's output for the round's end if c was not written to
// within the delay, else lists it for the loop's one hold timer, armed
// for the end of c's delay: those listed later may go out early, none late.
func (c *Conn) hold() {
	if c.held {
		return
	}
	l := c.loop
	wait := c.flushedAt + l.cfg.FlushDelay - l.now.Sub(l.epoch)
	if wait <= 0 {
		c.dirty = true
		l.dirty = append(l.dirty, c)
		return
	}
	c.held = true
	l.held = append(l.held, c)
	l.holdStats.Held++
	if !l.holdTimer.Pending() {
		l.holdStats.Windows++
		l.schedule(l.holdTimer, wait)
	}
}

// releaseHeld makes the held connections dirty: the round's flush writes them.
func (l *Loop) releaseHeld() {
	for i, c := range l.held {
		l.held[i] = nil
		c.held = false
		if !c.dirty && c.state != stateDone && c.Queued() > 0 {
			l.holdStats.Released++
			c.dirty = true
			l.dirty = append(l.dirty, c)
		}
	}
	l.held = l.held[:0]
}

// Buffers is the loop's buffer recycler, for other users of loop-owned
// buffers (the WebSocket decoder). Loop goroutine only.
func (l *Loop) Buffers() *Buffers { return &l.bufs }

func (l *Loop) armBufferTrim() {
	if l.bufTrim == nil {
		l.bufTrim = l.AfterFunc(IdleTrim, l.trimBuffers)
	}
}

func (l *Loop) trimBuffers() {
	l.bufTrim = nil
	if l.bufs.Trim() {
		if l.cfg.Quiet != nil {
			l.cfg.Quiet()
		}
	} else if l.bufs.Kept() > 0 {
		l.armBufferTrim()
	}
}

// Errors that say why a connection ended.
var (
	ErrPeerClosed   = errors.New("peer closed")
	ErrSlowConsumer = errors.New("output queue over limit")
	ErrShutdown     = errors.New("shutdown")
)

func (l *Loop) closeWaker() {
	unix.Close(l.wakeFD)
	if l.wakeWriteFD != l.wakeFD {
		unix.Close(l.wakeWriteFD)
	}
}
