package sshd

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// pipe is the net.Conn the library reads and writes. The loop feeds it
// the bytes it read from the socket (Feed); what the library writes goes
// to the loop through post, into the connection's normal output queue.
// Both directions are bounded: Feed reports when the loop should stop
// reading, and Write blocks while the loop says the socket's queue is full.
type pipe struct {
	post  func(func())
	write func(p []byte) bool // on the loop: queue p; false above the high-water mark
	local net.Addr
	peer  net.Addr

	mu      sync.Mutex
	cond    sync.Cond
	in      []byte
	closed  bool // Close ran: Read and Write fail at once
	full    bool // the socket's queue is above the high-water mark
	posted  int  // bytes handed to post that the loop has not queued yet
	paused  bool // Feed asked the loop to stop reading
	resume  func()
	maxIn   int
	maxPost int
}

var errPipeClosed = errors.New("connection closed")

func newPipe(post func(func()), write func([]byte) bool, resume func(), local, peer net.Addr) *pipe {
	p := &pipe{post: post, write: write, resume: resume, local: local, peer: peer,
		maxIn: 256 << 10, maxPost: 256 << 10}
	p.cond.L = &p.mu
	return p
}

// Feed hands bytes read from the socket to the library; on the loop. It
// copies p. It reports false when the loop should pause reading until the
// resume function runs.
func (p *pipe) Feed(b []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return true
	}
	p.in = append(p.in, b...)
	p.cond.Broadcast()
	if len(p.in) >= p.maxIn {
		p.paused = true
		return false
	}
	return true
}

// SetFull records whether the socket's output queue is above its
// high-water mark; on the loop.
func (p *pipe) SetFull(full bool) {
	p.mu.Lock()
	p.full = full
	p.cond.Broadcast()
	p.mu.Unlock()
}

func (p *pipe) Read(b []byte) (int, error) {
	p.mu.Lock()
	for len(p.in) == 0 && !p.closed {
		p.cond.Wait()
	}
	if p.closed {
		p.mu.Unlock()
		return 0, io.EOF
	}
	n := copy(b, p.in)
	p.in = p.in[n:]
	if len(p.in) == 0 {
		p.in = nil // an idle connection holds no input buffer
	}
	wake := p.paused && len(p.in) < p.maxIn/2
	if wake {
		p.paused = false
	}
	p.mu.Unlock()
	if wake {
		p.post(p.resume)
	}
	return n, nil
}

func (p *pipe) Write(b []byte) (int, error) {
	p.mu.Lock()
	for !p.closed && (p.full || p.posted >= p.maxPost) {
		p.cond.Wait()
	}
	if p.closed {
		p.mu.Unlock()
		return 0, errPipeClosed
	}
	p.posted += len(b)
	p.mu.Unlock()
	buf := append([]byte(nil), b...)
	p.post(func() {
		full := !p.write(buf)
		p.mu.Lock()
		p.posted -= len(buf)
		p.full = full
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	return len(b), nil
}

// Close fails every Read and Write, now and later; safe from any goroutine.
func (p *pipe) Close() error {
	p.mu.Lock()
	p.closed = true
	p.in = nil
	p.cond.Broadcast()
	p.mu.Unlock()
	return nil
}

func (p *pipe) LocalAddr() net.Addr                { return p.local }
func (p *pipe) RemoteAddr() net.Addr               { return p.peer }
func (p *pipe) SetDeadline(t time.Time) error      { return nil }
func (p *pipe) SetReadDeadline(t time.Time) error  { return nil }
func (p *pipe) SetWriteDeadline(t time.Time) error { return nil }
