package main

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// kindError tags an error with the kind it is counted under.
type kindError struct {
	kind errKind
	err  error
}

func (e *kindError) Error() string { return e.err.Error() }
func (e *kindError) Unwrap() error { return e.err }

func kerr(k errKind, err error) error { return &kindError{k, err} }

// classify turns a read/write failure into a counted kind.
func classify(err error, what string) error {
	var ke *kindError
	if errors.As(err, &ke) {
		return err
	}
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return kerr(errTimeout, fmt.Errorf("%s: %w", what, err))
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return kerr(errClosed, fmt.Errorf("%s: connection closed by server: %w", what, err))
	}
	return kerr(errIO, fmt.Errorf("%s: %w", what, err))
}

func kindOf(err error) errKind {
	var ke *kindError
	if errors.As(err, &ke) {
		return ke.kind
	}
	return errIO
}

// window is the shared timeline of a run, written once before start is
// closed and only read afterwards.
type window struct {
	start chan struct{} // closed when every connection is ready
	from  time.Time     // measured window [from, to)
	to    time.Time
	drain time.Duration
}

// echoWorker drives one connection: it keeps pipeline messages in flight,
// validates every echoed byte and records latencies. One goroutine owns it.
type echoWorker struct {
	cfg  *Config
	tgt  *target
	id   int
	conn net.Conn    // *net.TCPConn, or *tls.Conn on a wss target
	tls  *tls.Config // nil: the target's (connect --tls-resume: one with its own session cache)

	op      byte
	frame   *echoFrame // masked frame (ws) or bare payload (raw)
	chk     *echoCheck
	fr      frameReader
	rbuf    []byte
	ctrlBuf []byte // scratch for pong replies

	fd      int       // socket for the epoll driver; -1 with the goroutine driver
	writeBy time.Time // epoll driver: bound on waiting for a full socket buffer

	rest []byte // epoll driver: bytes received right after the handshake

	sendSeq  uint64
	inflight int
	sentAt   []time.Time // ring indexed by seq % pipeline

	hist *histogram
	msgs uint64 // echoes completed inside the window
}

func newEchoWorker(cfg *Config, tgt *target, id int) *echoWorker {
	w := &echoWorker{cfg: cfg, tgt: tgt, id: id, op: opBinary, fd: -1}
	if cfg.Text {
		w.op = opText
	}
	payload := make([]byte, cfg.Size)
	fillPayload(payload, cfg.Text, id)
	putSeq(payload[:seqDigits(len(payload))], 0)
	if tgt.raw {
		w.frame = &echoFrame{buf: payload, digits: payload[:seqDigits(len(payload))]}
	} else {
		// A fixed mask per connection: the server cannot tell, and it lets
		// the frame be masked once instead of once per message.
		var mask [4]byte
		binary.LittleEndian.PutUint32(mask[:], rand.Uint32()|1)
		w.frame = newEchoFrame(payload, w.op, mask)
	}
	w.chk = newEchoCheck(payload)
	// Big enough for the handshake response and for P small echoes per read.
	w.rbuf = make([]byte, min(max((clientHeaderLen(cfg.Size)+cfg.Size)*cfg.Pipeline, maxResponseHead), 64<<10))
	w.sentAt = make([]time.Time, cfg.Pipeline)
	return w
}

// open dials and, for WebSocket, performs the upgrade. It returns bytes
// received after the handshake response.
func (w *echoWorker) open() ([]byte, error) {
	c, err := w.tgt.connect(w.id, w.cfg.Timeout, w.tls)
	if err != nil {
		return nil, err
	}
	if w.tgt.raw {
		w.conn = c
		return nil, nil
	}
	_ = c.SetDeadline(time.Now().Add(w.cfg.Timeout))
	rest, err := w.tgt.handshake(c, w.rbuf)
	_ = c.SetDeadline(time.Time{})
	if err != nil {
		c.Close()
		return nil, kerr(errHandshake, err)
	}
	w.conn = c
	return rest, nil
}

// reset prepares the worker for a fresh connection (connect mode).
func (w *echoWorker) reset() {
	w.fr = frameReader{}
	w.chk.off = 0
	w.chk.seq = 0
	putSeq(w.chk.expect[:seqDigits(len(w.chk.expect))], 0)
	w.sendSeq, w.inflight = 0, 0
}

func (w *echoWorker) send() error {
	w.frame.setSeq(w.sendSeq)
	w.sentAt[w.sendSeq%uint64(len(w.sentAt))] = time.Now()
	if err := w.write(w.frame.buf); err != nil {
		return err
	}
	w.sendSeq++
	w.inflight++
	return nil
}

// write sends all of b on whichever socket the driver uses.
func (w *echoWorker) write(b []byte) error {
	if w.fd >= 0 {
		return writeFD(w.fd, b, w.writeBy)
	}
	if _, err := w.conn.Write(b); err != nil {
		return classify(err, "write")
	}
	return nil
}

// fill puts pipeline messages in flight.
func (w *echoWorker) fill() error {
	for w.inflight < len(w.sentAt) {
		if err := w.send(); err != nil {
			return err
		}
	}
	return nil
}

// consume handles received bytes: validates echoes, records latencies and
// sends the next message while the window is open.
func (w *echoWorker) consume(win *window, b []byte) error {
	for len(b) > 0 {
		n, done, err := w.feed(b)
		b = b[n:]
		if err != nil {
			return err
		}
		if !done {
			continue
		}
		now := time.Now()
		if w.inflight == 0 {
			return kerr(errEcho, fmt.Errorf("echo of message %d that was never sent", w.chk.seq-1))
		}
		w.inflight--
		if !now.Before(win.from) && now.Before(win.to) {
			w.hist.record(int64(now.Sub(w.sentAt[(w.chk.seq-1)%uint64(len(w.sentAt))])))
			w.msgs++
		}
		if now.Before(win.to) {
			if err := w.send(); err != nil {
				return err
			}
		}
	}
	return nil
}

// pump is the goroutine-per-connection driver: it keeps the pipeline full
// until win.to, then drains the echoes still in flight. pending holds bytes
// already received (handshake leftovers).
func (w *echoWorker) pump(win *window, pending []byte) error {
	_ = w.conn.SetDeadline(win.to.Add(win.drain))
	if err := w.fill(); err != nil {
		return err
	}
	if err := w.consume(win, pending); err != nil {
		return err
	}
	// Each round consumes bytes or blocks in Read until the deadline, so the
	// loop ends by the deadline at the latest.
	for w.inflight > 0 {
		n, err := w.conn.Read(w.rbuf)
		if n == 0 && err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				n = w.lastLook()
			}
			if n == 0 {
				return classify(err, fmt.Sprintf("waiting for %d echoes", w.inflight))
			}
		}
		if err := w.consume(win, w.rbuf[:n]); err != nil {
			return err
		}
	}
	return nil
}

// lastLook reads once without waiting after the deadline fired. Go checks
// the deadline before reading, so a goroutine scheduled late on a busy
// machine would otherwise call echoes already in the socket buffer lost.
func (w *echoWorker) lastLook() int {
	tc, ok := w.conn.(*net.TCPConn)
	if !ok {
		// TLS: a timed-out read can be retried; one more, briefly.
		_ = w.conn.SetReadDeadline(time.Now().Add(time.Millisecond))
		n, _ := w.conn.Read(w.rbuf)
		_ = w.conn.SetReadDeadline(time.Unix(1, 0))
		return n
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return 0
	}
	_ = w.conn.SetReadDeadline(time.Time{})
	n := 0
	_ = rc.Read(func(fd uintptr) bool {
		n, _ = unix.Read(int(fd), w.rbuf)
		return true // one attempt: never park
	})
	_ = w.conn.SetReadDeadline(time.Unix(1, 0)) // still expired for the next round
	return max(n, 0)
}

// feed consumes received bytes until one echo completes or b runs out.
func (w *echoWorker) feed(b []byte) (n int, done bool, err error) {
	if w.tgt.raw {
		n = min(len(b), len(w.chk.expect)-w.chk.off)
		if err := w.chk.data(b[:n]); err != nil {
			return n, false, kerr(errEcho, err)
		}
		if w.chk.full() {
			return n, true, w.chk.end()
		}
		return n, false, nil
	}
	for n < len(b) {
		res, err := w.fr.next(b[n:])
		n += res.n
		if err != nil {
			return n, false, kerr(errProtocol, err)
		}
		if res.msgOp != 0 && res.msgOp != w.op {
			return n, false, kerr(errEcho, fmt.Errorf("echo of message %d has opcode %d, sent %d", w.chk.seq, res.msgOp, w.op))
		}
		if len(res.data) > 0 {
			if err := w.chk.data(res.data); err != nil {
				return n, false, kerr(errEcho, err)
			}
		}
		if res.msgEnd {
			if err := w.chk.end(); err != nil {
				return n, false, kerr(errEcho, err)
			}
			return n, true, nil
		}
		switch res.ctrl {
		case opPing:
			if err := w.pong(); err != nil {
				return n, false, err
			}
		case opClose:
			return n, false, kerr(errClosed, fmt.Errorf("server sent close %s with %d echoes in flight", closeText(w.fr.ctrl[:w.fr.ctrlN]), w.inflight))
		}
	}
	return n, false, nil
}

func (w *echoWorker) pong() error {
	w.ctrlBuf = appendClientFrame(w.ctrlBuf[:0], opPong, w.fr.ctrl[:w.fr.ctrlN], w.frame.mask)
	return w.write(w.ctrlBuf)
}

func closeText(p []byte) string {
	if len(p) < 2 {
		return "(no code)"
	}
	return fmt.Sprintf("%d %q", binary.BigEndian.Uint16(p), p[2:])
}

// closeWS runs the closing handshake: close 1000, wait for the server's
// close frame, then briefly for the server to close TCP first (so TIME_WAIT
// lands on the server side, not on our ephemeral ports).
func (w *echoWorker) closeWS() error {
	_ = w.conn.SetDeadline(time.Now().Add(w.cfg.Timeout))
	if _, err := w.conn.Write(closeFrame(1000, w.frame.mask)); err != nil {
		return kerr(errCloseReply, fmt.Errorf("write close: %w", err))
	}
	const maxReads = 1 << 12 // data still arriving after the drain is ignored, within reason
	for range maxReads {
		n, err := w.conn.Read(w.rbuf)
		for b := w.rbuf[:n]; len(b) > 0; {
			res, perr := w.fr.next(b)
			b = b[res.n:]
			if perr != nil {
				return kerr(errProtocol, perr)
			}
			if res.ctrl == opClose {
				_ = w.conn.SetReadDeadline(time.Now().Add(min(w.cfg.Timeout, 200*time.Millisecond)))
				_, _ = w.conn.Read(w.rbuf[:1])
				return nil
			}
		}
		if err != nil {
			return kerr(errCloseReply, fmt.Errorf("waiting for close reply: %w", err))
		}
	}
	return kerr(errCloseReply, errors.New("no close reply among the data that followed"))
}

// finish ends the connection: close handshake for WebSocket, then close.
func (w *echoWorker) finish() error {
	defer w.conn.Close()
	if w.tgt.raw {
		return nil
	}
	return w.closeWS()
}

func runEcho(cfg *Config) (*Result, error) {
	tgt, err := newTarget(cfg)
	if err != nil {
		return nil, err
	}
	errs := &errorLog{w: cfg.Stderr}
	win := &window{start: make(chan struct{}), drain: cfg.Drain}
	workers := make([]*echoWorker, cfg.Conns)
	var ready, done sync.WaitGroup
	var opened atomic.Int64
	sem := make(chan struct{}, cfg.Dialers) // bounds concurrent dials: a listen backlog overflow would cost 1 s SYN retries
	ready.Add(cfg.Conns)
	done.Add(cfg.Conns)
	for i := range workers {
		w := newEchoWorker(cfg, tgt, i)
		w.hist = new(histogram)
		workers[i] = w
		go func() {
			defer done.Done()
			sem <- struct{}{}
			rest, err := w.open()
			<-sem
			if err == nil {
				opened.Add(1)
			}
			ready.Done()
			if err != nil {
				errs.add(kindOf(err), w.id, err)
				return
			}
			if cfg.Loops > 0 {
				// Hand the socket to an epoll loop; the read buffer is the loop's.
				w.rest = append([]byte(nil), rest...)
				w.rbuf = nil
				if w.fd, err = detachFD(w.conn.(*net.TCPConn)); err != nil {
					w.conn.Close()
					errs.add(errIO, w.id, err)
				}
				return
			}
			<-win.start
			if err := w.pump(win, rest); err != nil {
				errs.add(kindOf(err), w.id, err)
				w.conn.Close()
				return
			}
			if err := w.finish(); err != nil {
				errs.add(kindOf(err), w.id, err)
			}
		}()
	}
	ready.Wait()
	if cfg.Loops > 0 {
		done.Wait() // dialers are finished once their socket is detached
	}
	now := time.Now()
	win.from = now.Add(cfg.Warmup)
	win.to = win.from.Add(cfg.Duration)
	if opened.Load() == 0 {
		win.from, win.to = now, now // nothing to measure: do not sit out the window
	}
	close(win.start)
	if cfg.Loops > 0 {
		startLoops(cfg, win, errs, workers, &done)
	}

	probe := cpuProbe{pids: cfg.pids()}
	sleepUntil(win.from)
	probe.start()
	sleepUntil(win.to)
	probe.stop()
	done.Wait() // every worker and loop is bounded by its deadlines

	res := &Result{Mode: "echo", Target: tgt.String(), Conns: cfg.Conns, Size: ptr(cfg.Size),
		Pipeline: ptr(cfg.Pipeline), Duration: cfg.Duration.Seconds()}
	var total histTotal
	var msgs uint64
	for _, w := range workers {
		total.add(w.hist)
		msgs += w.msgs
	}
	res.Messages = ptr(msgs)
	res.MsgsPerS = ptr(float64(msgs) / cfg.Duration.Seconds())
	res.MBPerS = ptr(float64(msgs) * float64(cfg.Size) / cfg.Duration.Seconds() / 1e6)
	res.setLatency(&total)
	probe.fill(res, msgs)
	errs.fill(res)
	// A saturated load generator measures itself, not the server.
	if cfg.Loops > 0 && cfg.Stderr != nil && *res.BenchCPU > 0.9*float64(cfg.Loops)*cfg.Duration.Seconds() {
		fmt.Fprintf(cfg.Stderr, "pocketbench: warning: the %d epoll loop(s) used %.2f CPU-s in %.2f s: the load side may be the bottleneck; raise --loops\n",
			cfg.Loops, *res.BenchCPU, cfg.Duration.Seconds())
	}
	return res, nil
}

// startLoops spreads the open connections over cfg.Loops epoll loops.
func startLoops(cfg *Config, win *window, errs *errorLog, workers []*echoWorker, done *sync.WaitGroup) {
	loops := make([]*loop, cfg.Loops)
	for i := range loops {
		loops[i] = &loop{cfg: cfg, win: win, errs: errs, rbuf: make([]byte, 64<<10)}
	}
	k := 0
	for _, w := range workers {
		if w.fd >= 0 {
			l := loops[k%len(loops)]
			l.workers = append(l.workers, w)
			l.state = append(l.state, lsPumping)
			k++
		}
	}
	for _, l := range loops {
		done.Add(1)
		go func() {
			defer done.Done()
			l.run()
		}()
	}
}
