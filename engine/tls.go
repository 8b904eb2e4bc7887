package engine

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"slices"
	"sync/atomic"
	"time"
	"unsafe"

	lua "github.com/yuin/gopher-lua"

	"pocketlua/bindings"
	"pocketlua/poll"
	"pocketlua/transport"
)

// tlsSniffWait is how long a connection on a TLS listener may stay silent
// before start() runs in plaintext, so protocols where the server speaks
// first (FTP behind mux.lua) still work on the port. A ClientHello that
// comes later is still recognised while nothing has been sent.
const tlsSniffWait = 100 * time.Millisecond

// tlsPhase is where a connection on a TLS listener is.
type tlsPhase uint8

const (
	tlsSniffing    tlsPhase = iota // no byte read yet
	tlsHello                       // a ClientHello is arriving, gathered in head
	tlsHandshaking                 // the handshake goroutine runs
	tlsEstablished                 // the loop decrypts
)

const (
	tlsOK        = bindings.TLSOK
	tlsFailed    = bindings.TLSFailed
	tlsTimedOut  = bindings.TLSTimedOut
	tlsMalformed = bindings.TLSMalformed
)

// tlsConn is a connection's TLS state beside its Conn (like sshOf): a
// Conn stays small for the plaintext ones.
type tlsConn struct {
	c          *Conn
	phase      tlsPhase
	started    bool // start() ran (in plaintext, before a late ClientHello)
	sent       bool // something went out in plaintext: no TLS on this one any more
	head       []byte
	timer      *poll.Timer // the sniff wait, then the handshake deadline
	sess       *transport.Session
	info       *bindings.TLSInfo
	pumping    bool        // a pump is scheduled
	held       bool        // reading paused: too much input during the handshake
	pending    []byte      // sent by the instance during a conn:start_tls handshake
	closeAfter *closeCause // conn:close during that handshake, with pending output
	client     *tls.Config // an outbound connection's, until its handshake starts
	outbound   bool        // server.connect's: a failure is closed(nil, reason)
	lateCause  error       // the socket closed while the handshake ran
	running    bool        // the handshake goroutine has not reported yet

	requireResumption bool // conn:start_tls{require_resumption = true}

	// server.connect's, while its ca, cert and key files are read
	awaitingFiles bool
	tcpUp         bool // connected: the handshake waits for the files only
}

// maxHandshakeInput is the input held for a running handshake beyond which
// reading pauses until it ends.
const maxHandshakeInput = 64 << 10

// tlsServer is the loop's TLS bookkeeping.
type tlsServer struct {
	byConn   map[*Conn]*tlsConn
	inFlight int    // handshake goroutines running for accepted connections (not server.connect's)
	plain    []byte // decrypted input, handed to the instance
	scratch  []byte // a WebSocket header and payload, encrypted as one record
	stats    bindings.TLSCounters

	reloading   bool   // a certificate reload reads the files off the loop
	reloadAgain string // the trigger of one asked for meanwhile

	clientFiles map[clientFilesKey]*clientFilesEntry // server.connect's ca, cert and key, read off the loop
}

func (c *Conn) tlsOf() *tlsConn { return beside(c.srv.tls.byConn, c) }

// tlsAccept takes a connection on a TLS listener after accept(info): it
// waits for the first bytes to tell TLS from plaintext.
func (c *Conn) tlsAccept() {
	s := c.srv
	t := &tlsConn{c: c}
	if s.tls.byConn == nil {
		s.tls.byConn = make(map[*Conn]*tlsConn)
	}
	s.tls.byConn[c] = t
	if s.cfg.TLSRequired {
		t.timer = s.loop.AfterFunc(s.cfg.TLSHandshakeTimeout, t.timedOut)
		return
	}
	t.timer = s.loop.AfterFunc(tlsSniffWait, func() {
		if t.phase == tlsSniffing && !c.ended() && !t.started {
			t.started = true
			c.begin()
		}
	})
}

func (t *tlsConn) timedOut() {
	if t.phase != tlsEstablished {
		t.fail(tlsTimedOut, "tls handshake timeout", bindings.CloseTimeout)
	}
}

// plaintext: the connection is not TLS after all; it is served as if the
// listener had none.
func (t *tlsConn) plaintext() {
	c := t.c
	t.drop()
	if !t.started {
		c.begin()
	}
}

// drop forgets the TLS state.
func (t *tlsConn) drop() {
	t.timer.Stop()
	if t.sess != nil {
		t.sess.Close()
	}
	t.head, t.pending = nil, nil
	delete(t.c.srv.tls.byConn, t.c)
}

// fail ends a connection whose TLS did not come up. One that never
// started is closed without closed(), like a refused one.
func (t *tlsConn) fail(result int, reason string, kind bindings.CloseCause) {
	c := t.c
	s := c.srv
	if result >= 0 && !t.outbound {
		s.tls.stats.Handshakes[result]++
	}
	t.pending, t.closeAfter = nil, nil // nothing is owed to a failed handshake
	if c.ended() {
		return
	}
	if c.state == stateStarting && !t.outbound {
		// Closed then ends it without closed() (endUnstarted); a queued
		// alert still goes out.
		c.pc.Close(&closeCause{reason: reason, kind: kind})
		return
	}
	c.closeWith(0, reason, kind)
}

// data is socket input on a TLS listener.
func (t *tlsConn) data(p []byte) {
	c := t.c
	switch t.phase {
	case tlsSniffing:
		t.head = append(t.head, p...)
		isTLS, more := transport.LooksLikeTLS(t.head)
		if more {
			return
		}
		if !isTLS || t.sent {
			head := t.head
			if c.srv.cfg.TLSRequired {
				c.srv.tls.stats.PlaintextRefused++
				t.fail(-1, "tls required", bindings.CloseProtocolError)
				return
			}
			t.plaintext()
			if !c.ended() {
				c.plainData(head)
			}
			return
		}
		t.phase = tlsHello
		if !c.srv.cfg.TLSRequired {
			t.timer.Stop()
			t.timer = c.srv.loop.AfterFunc(c.srv.cfg.TLSHandshakeTimeout, t.timedOut)
		}
		t.hello()
	case tlsHello:
		t.head = append(t.head, p...)
		t.hello()
	case tlsHandshaking:
		t.sess.Feed(p)
		if t.sess.Buffered() > maxHandshakeInput {
			// A client does not send this much before the handshake ends:
			// let the kernel hold the rest.
			c.pc.Pause()
			t.held = true
		}
	case tlsEstablished:
		t.sess.Input(p)
		t.pump()
	}
}

// hello starts the handshake once the ClientHello is whole.
func (t *tlsConn) hello() {
	c := t.c
	s := c.srv
	whole, err := transport.ClientHelloComplete(t.head)
	if err == nil && !whole && len(t.head) > transport.MaxClientHello+64 {
		err = transport.ErrNotClientHello
	}
	if err != nil {
		t.fail(tlsMalformed, "tls: malformed ClientHello", bindings.CloseProtocolError)
		return
	}
	if !whole {
		return
	}
	if s.cfg.TLSStartups.drop(s.tls.inFlight) {
		s.tls.stats.Dropped++
		t.fail(-1, "too many tls handshakes", bindings.CloseProtocolError)
		return
	}
	t.phase = tlsHandshaking
	t.sess = s.cfg.TLS.NewSession(t.head, s.loop.Post, t.output, c.addrs)
	t.head = nil // the session's now
	if fd := c.pc.FD(); fd >= 0 && c.pc.Queued() == 0 {
		// Nothing else is queued before the handshake ends (pending
		// waits for it), and every close goes through drop, which closes
		// the session before the loop closes the socket.
		t.sess.WriteDirect(poll.DirectWriter(fd))
	}
	s.tls.inFlight++
	sess := t.sess
	t.running = true
	// The deadline is t.timer's: when it fires the connection closes, and
	// with it the session, which ends the handshake at once.
	goHandshake(func() {
		err := sess.Handshake()
		s.loop.Post(func() {
			s.tls.inFlight--
			t.running = false
			t.handshakeDone(err)
		})
	})
}

// addrs are the connection's addresses as net.Addr, for a TLS session
// that asks.
func (c *Conn) addrs() (local, peer net.Addr) {
	return addrOf(c.LocalAddr()), addrOf(c.Peer())
}

// idleHandshakers are handshake goroutines parked between handshakes, at
// most maxIdleHandshakers of them: a handshake then runs on a stack that
// has grown to what crypto/tls needs, instead of starting a goroutine
// whose stack is copied as it grows (about 3% of a full handshake's CPU).
// They serve the whole process; none is tied to a connection.
var (
	idleHandshakers    = make(chan func())
	idleHandshakerN    atomic.Int32
	maxIdleHandshakers = int32(2 * runtime.NumCPU())
)

// goHandshake runs fn on a parked handshake goroutine, or a new one.
func goHandshake(fn func()) {
	select {
	case idleHandshakers <- fn:
	default:
		go handshaker(fn)
	}
}

func handshaker(fn func()) {
	for {
		fn()
		if idleHandshakerN.Add(1) > maxIdleHandshakers {
			idleHandshakerN.Add(-1)
			return
		}
		fn = <-idleHandshakers
		idleHandshakerN.Add(-1)
	}
}

// output queues ciphertext; false above the high-water mark.
func (t *tlsConn) output(p []byte) bool {
	c := t.c
	if !c.pc.Open() {
		return false
	}
	return c.pc.Write(p)
}

func (t *tlsConn) handshakeDone(err error) {
	c := t.c
	if cause := t.lateCause; cause != nil {
		// The socket closed while the handshake ran: its verdict is the
		// better reason (a certificate the client refused, say).
		t.lateCause = nil
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
			cause = &closeCause{reason: handshakeReason(err), kind: bindings.CloseProtocolError}
		}
		c.closedWith(cause)
		return
	}
	if c.ended() || t.phase != tlsHandshaking || c.srv.tls.byConn[c] != t {
		return
	}
	if err != nil {
		t.fail(tlsFailed, handshakeReason(err), bindings.CloseProtocolError)
		return
	}
	if t.requireResumption && !t.sess.State().DidResume {
		t.fail(tlsFailed, "tls: session not resumed", bindings.CloseProtocolError)
		return
	}
	t.timer.Stop()
	if t.held {
		t.held = false
		c.pc.Resume()
	}
	if !t.outbound {
		c.srv.tls.stats.Handshakes[tlsOK]++
	}
	t.phase = tlsEstablished
	t.sess.Established()
	if pending := t.pending; pending != nil {
		t.pending = nil
		t.sess.Write(pending)
	}
	if cc := t.closeAfter; cc != nil {
		t.closeAfter = nil
		c.closeWith(cc.code, cc.reason, cc.kind)
		return
	}
	if !t.started {
		t.started = true
		c.begin()
	}
	t.pump()
}

// pump decrypts what has arrived and hands it to the instance, gathering
// records up to the buffer's size into one delivery.
func (t *tlsConn) pump() {
	c := t.c
	s := c.srv
	if s.tls.plain == nil {
		s.tls.plain = make([]byte, 64<<10)
	}
	buf := s.tls.plain
	for !c.ended() && !c.pc.Paused() && s.tls.byConn[c] == t {
		n := 0
		var err error
		for n < len(buf) && err == nil {
			var k int
			k, err = t.sess.Read(buf[n:])
			n += k
		}
		if n > 0 {
			c.plainData(buf[:n])
		}
		if err == nil {
			continue
		}
		if !transport.WouldBlock(err) && !c.ended() {
			if errors.Is(err, io.EOF) {
				c.closeWith(0, "peer closed", bindings.ClosePeer) // close_notify
			} else {
				c.closeWith(0, "tls: "+err.Error(), bindings.CloseProtocolError)
			}
		}
		break
	}
	if t.sess != nil {
		t.sess.Keep()
	}
}

// resumed: reading was paused with input held; decrypt it in a later
// round, not inside the handler that resumed.
func (t *tlsConn) resumed() {
	if t.phase != tlsEstablished || t.pumping {
		return
	}
	t.pumping = true
	t.c.srv.loop.AfterFunc(0, func() {
		t.pumping = false
		if !t.c.ended() && !t.c.pc.Paused() {
			t.pump()
		}
	})
}

// write is the one way the engine queues output for a connection: through
// TLS when the connection speaks it. False above the high-water mark.
func (c *Conn) write(p []byte) bool {
	if t := c.tlsOf(); t != nil {
		return t.send(p)
	}
	return c.pc.Write(p)
}

func (c *Conn) writeString(data string) bool {
	if t := c.tlsOf(); t != nil {
		return t.send(unsafe.Slice(unsafe.StringData(data), len(data)))
	}
	return c.pc.WriteString(data)
}

// write2 is poll.Conn.Write2 (a frame header and its payload); under TLS a
// small frame becomes one record.
func (c *Conn) write2(head []byte, body string) bool {
	t := c.tlsOf()
	if t == nil {
		return c.pc.Write2(head, body)
	}
	// head is only ever copied, so the caller's header array stays on
	// its stack: plaintext frames allocate nothing for it.
	s := c.srv
	if len(body) >= 16<<10 {
		s.tls.scratch = append(s.tls.scratch[:0], head...)
		t.send(s.tls.scratch)
		return t.send(unsafe.Slice(unsafe.StringData(body), len(body)))
	}
	s.tls.scratch = append(append(s.tls.scratch[:0], head...), body...)
	ok := t.send(s.tls.scratch)
	if cap(s.tls.scratch) > 64<<10 {
		s.tls.scratch = nil
	}
	return ok
}

// send encrypts p into the queue once the handshake is over; before a
// ClientHello it goes out in plaintext, and the connection stays so.
func (t *tlsConn) send(p []byte) bool {
	c := t.c
	switch t.phase {
	case tlsEstablished:
		if !c.pc.Open() {
			return false
		}
		t.sess.Write(p)
		return c.pc.Open() && c.pc.Queued() <= c.srv.cfg.HighWater
	case tlsSniffing:
		t.sent = true
		return c.pc.Write(p)
	}
	// Mid-handshake (after conn:start_tls): kept until it is over.
	t.pending = append(t.pending, p...)
	if len(t.pending) > c.srv.cfg.MaxQueuedBytes {
		c.pc.Abort(poll.ErrSlowConsumer)
		return false
	}
	return len(t.pending) <= c.srv.cfg.HighWater
}

// tlsClose sends close_notify before a graceful close.
func (t *tlsConn) closeNotify() {
	if t.phase == tlsEstablished && t.c.pc.Open() {
		t.sess.CloseNotify()
	}
}

// StartTLS is conn:start_tls: the connection's next input is a
// ClientHello, through the same handshake path and limits as on a TLS
// listener. What the instance sends meanwhile is encrypted once the
// handshake is over.
func (c *Conn) StartTLS(o bindings.StartTLSOptions) error {
	leftover := o.Leftover
	s := c.srv
	switch {
	case s.cfg.TLS == nil:
		return errors.New("no certificate: start the server with --tls-cert and --tls-key")
	case !c.Open():
		return errors.New("connection is closed")
	case c.ws != nil || c.sshOf() != nil:
		return fmt.Errorf("the connection is in %s mode", c.Mode())
	}
	t := c.tlsOf()
	if t != nil && t.phase != tlsSniffing {
		return errors.New("the connection speaks TLS already")
	}
	if t == nil {
		t = &tlsConn{c: c}
		if s.tls.byConn == nil {
			s.tls.byConn = make(map[*Conn]*tlsConn)
		}
		s.tls.byConn[c] = t
	} else {
		t.timer.Stop()
	}
	t.started = true
	t.phase = tlsHello
	t.requireResumption = o.RequireResumption
	t.timer = s.loop.AfterFunc(s.cfg.TLSHandshakeTimeout, t.timedOut)
	if leftover != "" {
		// After the handler returns: the handshake must not start inside it.
		s.loop.AfterFunc(0, func() {
			if s.tls.byConn[c] == t && t.phase == tlsHello && !c.ended() {
				t.data([]byte(leftover))
			}
		})
	}
	return nil
}

// awaitVerdict: an outbound connection's socket closed mid-handshake (the
// peer hung up after our alert, typically): closed() waits for the
// handshake goroutine, whose error says why. True when it waits.
func (t *tlsConn) awaitVerdict(cause error) bool {
	if !t.outbound || !t.running || t.c.ended() || t.lateCause != nil {
		return false
	}
	t.lateCause = cause
	t.sess.Close()
	return true
}

// endUnstarted: an accepted connection that ends before its first bytes
// or its handshake are through never ran start(), so closed() is not owed
// either, as for one accept(info) refused.
func (t *tlsConn) endUnstarted() bool {
	c := t.c
	if t.started || t.outbound || c.state != stateStarting {
		return false
	}
	c.endBeforeStart()
	t.drop()
	return true
}

func handshakeReason(err error) string {
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return msg
}

// SocketBindTLS is server.socket_bind with tls = true: connections on the
// listener are TLS or plaintext as on the --listen ports (plaintext
// refused under --tls-required).
func (s *Server) SocketBindTLS(host string, port int, class *lua.LTable) (bindings.Listener, error) {
	if s.cfg.TLS == nil {
		return nil, errors.New("socket_bind: tls needs a certificate: start the server with --tls-cert and --tls-key")
	}
	ln, err := s.SocketBind(host, port, class)
	if err != nil {
		return nil, err
	}
	ln.(*listener).tls = true
	return ln, nil
}

// HasTLS is server.has_tls(): a certificate is configured.
func (s *Server) HasTLS() bool { return s.cfg.TLS != nil }

// deferClose: a close asked for during a conn:start_tls handshake with
// output waiting for it happens once the handshake is over and that
// output is queued, so a reply sent just before closing is not lost.
func (t *tlsConn) deferClose(cause *closeCause) bool {
	if !t.started || len(t.pending) == 0 || (t.phase != tlsHello && t.phase != tlsHandshaking) {
		return false
	}
	t.closeAfter = cause
	return true
}

// TLS is conn.tls: nil on plaintext.
func (c *Conn) TLS() *bindings.TLSInfo {
	t := c.tlsOf()
	if t == nil || t.phase != tlsEstablished {
		return nil
	}
	if t.info == nil {
		t.info = tlsInfoOf(t.sess.State())
	}
	return t.info
}

// cipherNames: tls.CipherSuiteName builds the list of every suite on
// each call.
var cipherNames = func() map[uint16]string {
	m := make(map[uint16]string)
	for _, cs := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		m[cs.ID] = cs.Name
	}
	return m
}()

func cipherName(id uint16) string {
	if n, ok := cipherNames[id]; ok {
		return n
	}
	return tls.CipherSuiteName(id)
}

func tlsInfoOf(st tls.ConnectionState) *bindings.TLSInfo {
	info := &bindings.TLSInfo{
		Version:    tls.VersionName(st.Version),
		Cipher:     cipherName(st.CipherSuite),
		ServerName: st.ServerName,
		ALPN:       st.NegotiatedProtocol,
		Resumed:    st.DidResume,
	}
	if len(st.PeerCertificates) > 0 {
		leaf := st.PeerCertificates[0]
		sum := sha256.Sum256(leaf.Raw)
		info.Peer = &bindings.TLSPeer{
			Subject:           leaf.Subject.String(),
			Issuer:            leaf.Issuer.String(),
			NotAfter:          leaf.NotAfter.Unix(),
			FingerprintSHA256: hex.EncodeToString(sum[:]),
		}
	}
	return info
}

// reloadTLS reads the certificate files again (SIGHUP, --watch). They are
// the process's: the first worker reads them for all, on a goroutine so a
// slow disk (or a file that blocks, like a FIFO) never stalls its loop.
// One reading at a time: a trigger during one runs once more after it.
func (s *Server) reloadTLS(trigger string) {
	if s.cfg.TLS == nil || s.cfg.Worker > 1 {
		return
	}
	if s.tls.reloading {
		s.tls.reloadAgain = trigger
		return
	}
	s.tls.reloading = true
	certs := s.cfg.TLS
	go func() {
		changed, err := certs.Reload()
		s.loop.Post(func() {
			switch {
			case err != nil:
				s.log.Error("tls reload failed: keeping the certificates in use", "trigger", trigger, "err", err)
			case changed:
				s.log.Info("tls certificates reloaded", "trigger", trigger)
			}
			s.tls.reloading = false
			if again := s.tls.reloadAgain; again != "" {
				s.tls.reloadAgain = ""
				s.reloadTLS(again)
			}
		})
	}()
}

// tlsCounters are this worker's TLS counters.
func (s *Server) tlsCounters() bindings.TLSCounters {
	st := s.tls.stats
	st.InFlight = s.tls.inFlight
	return st
}

// tlsFiles are the certificate files --watch watches too.
func (s *Server) tlsFiles() []string {
	if s.cfg.TLS == nil {
		return nil
	}
	return s.cfg.TLS.Files()
}

func (s *Server) onlyTLSFiles(names []string) bool {
	files := s.tlsFiles()
	for _, n := range names {
		if !slices.Contains(files, n) {
			return false
		}
	}
	return len(files) > 0
}

// ConnectTLS is server.connect with tls = true: the connection's start
// runs once the TLS handshake is over; a failure, a certificate that does
// not verify or a ca, cert or key file that cannot be read included, is
// closed(nil, reason) with the library's words. The files are read off
// the loop (clientfiles.go).
func (s *Server) ConnectTLS(host string, port int, class *lua.LTable, timeout time.Duration, o *bindings.ClientTLS) (*lua.LTable, error) {
	cfg := &tls.Config{ServerName: o.ServerName, InsecureSkipVerify: o.Insecure, MinVersion: tls.VersionTLS12}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	c, err := s.connect(host, port, class, timeout, cfg)
	if err != nil {
		return nil, err
	}
	if o.CA != "" || o.Cert != "" {
		s.awaitClientFiles(clientFilesKey{o.CA, o.Cert, o.Key}, c.tlsOf())
	}
	return c.inst, nil
}

// tlsClient is an outbound connection's TLS state from the start: what
// the instance sends before the handshake is over waits for it.
func (s *Server) tlsClient(c *Conn, cfg *tls.Config) *tlsConn {
	t := &tlsConn{c: c, phase: tlsHandshaking, client: cfg, outbound: true}
	if s.tls.byConn == nil {
		s.tls.byConn = make(map[*Conn]*tlsConn)
	}
	s.tls.byConn[c] = t
	return t
}

// clientConnected: the TCP connect succeeded; the handshake begins, once
// the ca, cert and key files are in. The handshake timeout counts from
// here, the wait for the files included.
func (t *tlsConn) clientConnected() {
	c := t.c
	s := c.srv
	if c.ended() || s.tls.byConn[c] != t {
		return
	}
	t.timer = s.loop.AfterFunc(s.cfg.TLSHandshakeTimeout, t.timedOut)
	t.tcpUp = true
	if !t.awaitingFiles {
		t.clientHandshake()
	}
}

func (t *tlsConn) clientHandshake() {
	c := t.c
	s := c.srv
	t.sess = transport.NewClientSession(t.client, s.cfg.TLS, s.loop.Post, t.output, c.addrs)
	t.client = nil
	sess := t.sess
	t.running = true
	goHandshake(func() { // bounded by t.timer, as on the server side
		err := sess.Handshake()
		s.loop.Post(func() {
			t.running = false
			t.handshakeDone(err)
		})
	})
}
