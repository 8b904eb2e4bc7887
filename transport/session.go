package transport

import (
	"crypto/tls"
	"io"
	"net"
	"sync"
	"time"
)

// Session is one server-side TLS connection: crypto/tls over a memConn.
// The handshake runs on a goroutine of its own (Handshake); after it the
// loop alone drives the session (Input, Read, Write), and no goroutine is
// left.
type Session struct {
	tc     *tls.Conn
	mc     *memConn
	t      *TLS
	client bool // server.connect's side: verifies the peer against roots
}

// NewSession starts a session whose first input is hello (a whole
// ClientHello, which the session owns from now on). post runs a function
// on the loop; write queues bytes for the socket, on the loop, and reports
// false above the high-water mark; addrs gives the connection's addresses
// when crypto/tls asks (it does not on its own: only a GetConfigForClient
// reading ClientHelloInfo.Conn would), so a handshake costs no
// getsockname.
func (t *TLS) NewSession(hello []byte, post func(func()), write func([]byte) bool, addrs func() (local, peer net.Addr)) *Session {
	mc := &memConn{post: post, write: write, addrs: addrs, done: make(chan struct{})}
	mc.cond.L = &mc.mu
	mc.in = hello
	mc.owned = true
	return &Session{tc: tls.Server(mc, t.base), mc: mc, t: t}
}

// NewClientSession starts the client side of a session (server.connect
// with tls); cfg is the caller's.
func NewClientSession(cfg *tls.Config, pool *TLS, post func(func()), write func([]byte) bool, addrs func() (local, peer net.Addr)) *Session {
	mc := &memConn{post: post, write: write, addrs: addrs, done: make(chan struct{})}
	mc.cond.L = &mc.mu
	return &Session{tc: tls.Client(mc, cfg), mc: mc, t: pool, client: true}
}

// Handshake runs the handshake; call it on a goroutine of its own. Its
// deadline is the caller's: Close ends it at once (the loop closes the
// connection when its handshake timer fires), so no timer or context is
// set up per handshake here. The crypto pool bounds how many handshakes
// compute at once: a handshake holds a slot only while it has input to
// work on, not while it waits for the client's next flight.
func (s *Session) Handshake() error {
	if s.t != nil {
		s.mc.pool = s.t.crypto
	}
	if s.client {
		installFallbackRoots()
	}
	if !s.mc.acquire() {
		return net.ErrClosed
	}
	err := s.tc.Handshake()
	s.mc.releaseSlot()
	return err
}

// Established hands the session to the loop: from now on reads never
// block and writes go straight to the socket's queue. Call it on the loop
// once Handshake has returned nil.
func (s *Session) Established() {
	s.mc.mu.Lock()
	s.mc.onLoop = true
	s.mc.mu.Unlock()
}

// WriteDirect lets the handshake write its flights to the socket itself
// through w (a non-blocking send: the count written, or an error), instead
// of posting them to the loop: one hand-off between threads less per
// handshake. What w does not take (the socket full, an error) is posted to
// the loop as before, and so is everything after it, so the bytes stay in
// order. Call it on the loop before Handshake, with nothing queued for the
// socket; the loop must Close the session before it closes the socket
// (a write holds the session's lock, so the descriptor cannot be reused
// under it).
func (s *Session) WriteDirect(w func([]byte) (int, error)) {
	s.mc.mu.Lock()
	s.mc.direct = w
	s.mc.mu.Unlock()
}

// Feed gives socket input to the handshake; on the loop. p is copied.
func (s *Session) Feed(p []byte) {
	m := s.mc
	m.mu.Lock()
	if !m.closed {
		m.in = append(m.in, p...)
		m.owned = true
		m.cond.Broadcast()
	}
	m.mu.Unlock()
}

// Input lends socket input to the established session; on the loop. The
// bytes are read by Read until Keep, which copies what is left.
func (s *Session) Input(p []byte) {
	m := s.mc
	m.mu.Lock()
	if len(m.in) == 0 {
		m.in, m.owned = p, false
	} else {
		m.in = append(m.in, p...)
	}
	m.mu.Unlock()
}

// Keep copies unread input that Input lent, so the caller may reuse its
// buffer; an empty input holds no buffer.
func (s *Session) Keep() {
	m := s.mc
	m.mu.Lock()
	switch {
	case len(m.in) == 0:
		m.in, m.owned = nil, false
	case !m.owned:
		m.in, m.owned = append([]byte(nil), m.in...), true
	}
	m.mu.Unlock()
}

// Buffered is the ciphertext held and not yet decrypted.
func (s *Session) Buffered() int {
	s.mc.mu.Lock()
	defer s.mc.mu.Unlock()
	return len(s.mc.in)
}

// Read decrypts into p; on the loop. WouldBlock(err) means every whole
// record was read: wait for more input.
func (s *Session) Read(p []byte) (int, error) { return s.tc.Read(p) }

// Write encrypts p into the socket's queue; on the loop.
func (s *Session) Write(p []byte) (int, error) { return s.tc.Write(p) }

// CloseNotify queues a close_notify alert; on the loop.
func (s *Session) CloseNotify() { s.tc.CloseWrite() }

// State is the negotiated connection state.
func (s *Session) State() tls.ConnectionState { return s.tc.ConnectionState() }

// Close ends the session from the loop's side: a running handshake fails
// at once. Safe from any goroutine, and twice.
func (s *Session) Close() { s.mc.Close() }

// WouldBlock reports whether a Read error only means "no whole record yet".
func WouldBlock(err error) bool { return err == errWouldBlock }

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "tls: no input yet" }
func (wouldBlock) Timeout() bool   { return false }
func (wouldBlock) Temporary() bool { return true } // crypto/tls keeps the partial record and lets the read be retried

var errWouldBlock net.Error = wouldBlock{}

// memConn is the net.Conn crypto/tls reads and writes. Reads are cut at
// record boundaries, so the library's input buffer holds one record at a
// time. During the handshake reads block (on the handshake goroutine)
// and writes are posted to the loop; once onLoop, reads return
// errWouldBlock when no whole record header is in and writes queue
// directly.
type memConn struct {
	post        func(func())
	write       func([]byte) bool
	addrs       func() (local, peer net.Addr)
	addrsOnce   sync.Once
	local, peer net.Addr

	mu      sync.Mutex
	cond    sync.Cond
	in      []byte
	owned   bool // in is ours, not the loop's read buffer
	recLeft int  // bytes of the current record not yet handed out
	closed  bool
	onLoop  bool
	done    chan struct{}
	direct  func([]byte) (int, error) // WriteDirect's; nil once it left bytes

	pool chan struct{} // the crypto pool; touched by the handshake goroutine only
	slot bool
}

func (m *memConn) acquire() bool {
	if m.slot || m.pool == nil {
		return true
	}
	select {
	case m.pool <- struct{}{}:
		m.slot = true
		return true
	case <-m.done:
		return false
	}
}

func (m *memConn) releaseSlot() {
	if m.slot {
		<-m.pool
		m.slot = false
	}
}

// ready: a read can hand out bytes (a whole record header at a record
// boundary, or any byte inside a record).
func (m *memConn) ready() bool {
	return len(m.in) > 0 && (m.recLeft > 0 || len(m.in) >= recordHeader)
}

func (m *memConn) Read(b []byte) (int, error) {
	m.mu.Lock()
	if !m.onLoop && !m.closed && !m.ready() {
		// Waiting for the client's next flight: give the crypto slot back.
		m.mu.Unlock()
		m.releaseSlot()
		m.mu.Lock()
		for !m.closed && !m.ready() {
			m.cond.Wait()
		}
		if !m.closed {
			m.mu.Unlock()
			if !m.acquire() {
				return 0, io.EOF
			}
			m.mu.Lock()
		}
	}
	defer m.mu.Unlock()
	if m.closed {
		return 0, io.EOF
	}
	if !m.ready() {
		return 0, errWouldBlock
	}
	if m.recLeft == 0 {
		m.recLeft = recordHeader + (int(m.in[3])<<8 | int(m.in[4]))
	}
	n := copy(b[:min(len(b), m.recLeft)], m.in)
	m.recLeft -= n
	m.in = m.in[n:]
	if len(m.in) == 0 && m.owned {
		m.in = nil // an idle connection holds no input buffer
	}
	return n, nil
}

func (m *memConn) Write(b []byte) (int, error) {
	n := len(b)
	m.mu.Lock()
	closed, onLoop := m.closed, m.onLoop
	if !closed && !onLoop && m.direct != nil {
		b = m.writeDirect(b)
	}
	m.mu.Unlock()
	if closed {
		return 0, net.ErrClosed
	}
	if onLoop {
		m.write(b)
		return n, nil
	}
	if len(b) > 0 {
		buf := append([]byte(nil), b...)
		m.post(func() { m.write(buf) })
	}
	return n, nil
}

// writeDirect sends what the socket takes now and returns the rest; with
// m.mu held. Whatever is left (the socket full, an error the loop's own
// write then meets) turns direct writes off for good.
func (m *memConn) writeDirect(b []byte) []byte {
	for len(b) > 0 {
		k, err := m.direct(b)
		if k <= 0 || err != nil {
			m.direct = nil
			break
		}
		b = b[k:]
	}
	return b
}

func (m *memConn) Close() error {
	m.mu.Lock()
	if !m.closed {
		m.closed = true
		if m.owned {
			m.in = nil
		}
		close(m.done)
		m.cond.Broadcast()
	}
	m.mu.Unlock()
	return nil
}

func (m *memConn) LocalAddr() net.Addr  { m.addrsOnce.Do(m.resolve); return m.local }
func (m *memConn) RemoteAddr() net.Addr { m.addrsOnce.Do(m.resolve); return m.peer }

func (m *memConn) resolve() {
	m.local, m.peer = &net.TCPAddr{}, &net.TCPAddr{}
	if m.addrs != nil {
		m.local, m.peer = m.addrs()
	}
}
func (m *memConn) SetDeadline(t time.Time) error      { return nil }
func (m *memConn) SetReadDeadline(t time.Time) error  { return nil }
func (m *memConn) SetWriteDeadline(t time.Time) error { return nil }
