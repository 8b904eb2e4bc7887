package engine

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	lua "github.com/yuin/gopher-lua"
	"golang.org/x/sys/unix"

	"pocketlua/bindings"
	"pocketlua/poll"
	"pocketlua/sandbox"
	"pocketlua/ws"
)

// Conn is one connection: the socket, its Lua instance, and its mode.
type Conn struct {
	srv    *Server
	pc     *poll.Conn
	id     int64
	inst   *lua.LTable
	cls    *classInfo
	ws     *wsConn // WebSocket framing state once upgraded (the mode outlives the end); SSH's: sshOf
	timers []*luaTimer
	peer   peerAddr
	state  connState // in the peer's last word: a Conn stays 96 bytes
	opened uint32    // seconds after the server started, for the console's age column
}

// connState is where a connection is in its life. setState is the one
// place it changes.
type connState uint8

const (
	stateStarting  connState = iota // accept(info) runs, or the outbound connect is under way
	stateRaw                        // open: bytes go to data(bytes)
	stateWebSocket                  // open: frames decoded, messages go to message(payload, kind)
	stateClosing                    // WebSocket: closed has run and our close frame is out; the socket waits for the peer's
	stateEnded                      // closed has run (or the connection was refused); the socket is closing
)

var stateNames = [...]string{"starting", "raw", "websocket", "closing", "ended"}

func (s connState) String() string { return stateNames[s] }

// setState moves c to a later state: starting -> raw or websocket,
// raw -> websocket, websocket -> closing, anything -> ended. Any other
// move is a bug in the engine.
func (c *Conn) setState(to connState) {
	from := c.state
	ok := from == to && to == stateEnded ||
		to > from && (to != stateClosing || from == stateWebSocket) && (from != stateClosing || to == stateEnded)
	if !ok {
		panic(fmt.Sprintf("engine: connection %d moved from %s to %s", c.id, from, to))
	}
	c.state = to
}

// ended reports whether closed has run: nothing more is delivered to the
// instance and nothing it sends goes out.
func (c *Conn) ended() bool { return c.state >= stateClosing }

// peerAddr is the peer's address kept inline: the Sockaddr from accept
// would cost an interface and a 32-64 byte object per connection.
type peerAddr struct {
	ip   [16]byte
	port [2]byte // big-endian: bytes keep the struct at 19 bytes with no padding
	kind uint8   // 0 none, 4 IPv4 (ip[:4]), 6 IPv6
}

func makePeerAddr(sa unix.Sockaddr) peerAddr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		p := peerAddr{port: [2]byte{byte(a.Port >> 8), byte(a.Port)}, kind: 4}
		copy(p.ip[:], a.Addr[:])
		return p
	case *unix.SockaddrInet6:
		return peerAddr{ip: a.Addr, port: [2]byte{byte(a.Port >> 8), byte(a.Port)}, kind: 6}
	}
	// Listeners and server.connect are TCP only; a socketpair (tests)
	// has no address.
	return peerAddr{}
}

func (p *peerAddr) String() string {
	var host string
	switch p.kind {
	case 4:
		host = netip.AddrFrom4([4]byte(p.ip[:4])).String()
	case 6:
		host = netip.AddrFrom16(p.ip).String()
	}
	return poll.JoinHostPort(host, int(p.port[0])<<8|int(p.port[1]))
}

// closeCause says why a connection ended; code is the WebSocket close code
// (0 on a raw connection).
type closeCause struct {
	code   int
	reason string
	kind   bindings.CloseCause // for /metrics
}

func (c *closeCause) Error() string { return c.reason }

const ws1001 = 1001

// newConn makes a connection to peer served by class, without a socket
// yet: the caller sets c.pc, then calls c.attach.
func (s *Server) newConn(peer unix.Sockaddr, class *classInfo) *Conn {
	s.nextID++
	return &Conn{srv: s, id: s.nextID, peer: makePeerAddr(peer), cls: class, opened: uint32(max(s.loop.Now().Sub(s.started), 0) / time.Second)}
}

// attach creates the instance setmetatable({conn = conn}, class) and puts
// the connection in the table; accepted and outbound connections share it.
func (c *Conn) attach() {
	s := c.srv
	inst := s.L.CreateTable(0, 4)
	inst.RawSetString("conn", bindings.NewConn(s.L, c))
	inst.Metatable = c.cls.table
	c.inst = inst
	s.conns[c.id] = c
}

func (s *Server) openConn(fd int, sa unix.Sockaddr, class *classInfo) {
	s.openConnTLS(fd, sa, class, false)
}

// openConnTLS is openConn; with tlsOn the connection's first bytes may
// be a ClientHello (a --listen listener with TLS configured).
func (s *Server) openConnTLS(fd int, sa unix.Sockaddr, class *classInfo, tlsOn bool) {
	if c := s.register(fd, sa, class); c != nil {
		c.admit(tlsOn)
	}
}

// register gives an accepted fd its Conn on the loop; nil (fd closed,
// error logged) when the loop cannot take it.
func (s *Server) register(fd int, sa unix.Sockaddr, class *classInfo) *Conn {
	c := s.newConn(sa, class)
	pc, err := s.loop.NewConn(fd, c)
	if err != nil {
		unix.Close(fd)
		s.log.Error("register connection", "err", err)
		return nil
	}
	c.pc = pc
	s.stats.accepted++
	return c
}

// admit makes the instance and runs accept(info), then start() (or waits
// for the first bytes to tell TLS from plaintext when tlsOn).
func (c *Conn) admit(tlsOn bool) {
	s := c.srv
	pc, class := c.pc, c.cls
	c.attach()

	if class.fns[evAccept] != nil {
		ret, ok := c.call(evAccept, 1, bindings.AcceptInfo(s.L, c), nil, 1)
		if !ok {
			return
		}
		if c.ended() {
			return // accept closed the connection itself
		}
		if ret == lua.LFalse {
			c.endBeforeStart()
			s.stats.refused++
			pc.Abort(&closeCause{reason: "refused"})
			return
		}
	}
	if tlsOn {
		c.tlsAccept() // start() runs once the first bytes tell TLS from plaintext
		return
	}
	c.begin()
}

// begin runs start, in raw mode unless the connection upgraded already.
func (c *Conn) begin() {
	if c.state == stateStarting {
		c.setState(stateRaw)
	}
	c.call(evStart, 0, nil, nil, 0)
	c.srv.deliverEarly(c)
}

// call runs one of the instance's handlers, if its class defines it.
func (c *Conn) call(ev event, nargs int, a1, a2 lua.LValue, nret int) (lua.LValue, bool) {
	c.resolveClass()
	fn := c.cls.fns[ev]
	if fn == nil {
		return lua.LNil, true
	}
	return c.srv.invoke(c, fn, c.inst, nargs, a1, a2, nret, ev)
}

// resolveClass follows a script's setmetatable on its instance.
func (c *Conn) resolveClass() {
	if mt, ok := c.inst.Metatable.(*lua.LTable); ok && mt != c.cls.table {
		c.cls = c.srv.newClassInfo(mt, c.cls.version)
	}
}

// invoke calls fn(self, a1, a2) under the handler guard. A failure is
// logged once with its traceback and ends only c's connection.
func (s *Server) invoke(c *Conn, fn *lua.LFunction, self lua.LValue, nargs int, a1, a2 lua.LValue, nret int, ev event) (lua.LValue, bool) {
	L := s.L
	L.Push(fn)
	n := 0
	if self != nil {
		L.Push(self)
		n++
	}
	if nargs > 0 {
		L.Push(a1)
		n++
	}
	if nargs > 1 {
		L.Push(a2)
		n++
	}
	// Since a monotonic start reads one clock; time.Now would read two.
	var start time.Duration
	if s.cfg.TimeHandlers {
		start = time.Since(s.started)
	}
	s.guard.Enter()
	err := L.PCall(n, nret, nil)
	timedOut := s.guard.Exit()
	if s.cfg.TimeHandlers {
		s.stats.obs.Handlers[ev].Observe(time.Since(s.started) - start)
	}
	if err != nil {
		s.handlerFailed(c, bindings.HandlerNames[ev], err, timedOut)
		return lua.LNil, false
	}
	if nret == 0 {
		return lua.LNil, true
	}
	ret := L.Get(-1)
	L.Pop(1)
	return ret, true
}

func (s *Server) handlerFailed(c *Conn, what string, err error, timedOut bool) {
	msg, trace := sandbox.ErrorText(err)
	attrs := []any{"event", what}
	if c != nil {
		attrs = append(attrs, "conn", c.id, "peer", c.Peer())
	}
	reason, cause := "error", bindings.CloseLuaError
	if heap, mem := s.guard.MemoryInterrupt(); timedOut && mem {
		s.stats.memoryInterrupts++
		reason, cause = "memory limit", bindings.CloseMemoryLimit
		msg = fmt.Sprintf("Go heap at %d MiB, over --max-memory %d MiB: handler interrupted", heap>>20, s.cfg.MaxMemory>>20)
	} else if timedOut {
		s.stats.timeouts++
		reason, cause = "handler timeout", bindings.CloseHandlerTimeout
		msg = fmt.Sprintf("handler ran longer than %s and was interrupted", s.cfg.HandlerTimeout)
	} else {
		s.stats.luaErrors++
	}
	attrs = append(attrs, "err", msg)
	if trace != "" {
		attrs = append(attrs, "traceback", trace)
	}
	s.log.Error("lua handler failed", attrs...)
	if c != nil && !c.ended() {
		c.closeWith(1011, reason, cause)
	}
}

// poll.Handler

func (c *Conn) Data(p []byte) {
	if h := c.proxyOf(); h != nil {
		h.data(p)
		return
	}
	if t := c.tlsOf(); t != nil {
		t.data(p)
		return
	}
	c.plainData(p)
}

// plainData is input as the instance sees it: read from the socket, or
// decrypted.
func (c *Conn) plainData(p []byte) {
	obs := &c.srv.stats.obs
	if c.ws != nil {
		obs.BytesIn[bindings.ProtoWebSocket] += int64(len(p))
		c.wsData(p)
		return
	}
	obs.BytesIn[c.cls.proto] += int64(len(p))
	if h := c.sshOf(); h != nil {
		h.feed(p)
		return
	}
	obs.MessagesIn[c.cls.proto]++
	c.call(evData, 1, lua.LString(string(p)), nil, 0)
}

func (c *Conn) Drain() {
	if h := c.sshOf(); h != nil {
		h.b.OutputDrained()
		return
	}
	if !c.ended() {
		c.call(evDrain, 0, nil, nil, 0)
	}
}

func (c *Conn) Closed(cause error) {
	if p := c.proxyOf(); p != nil {
		p.drop() // no instance yet: nothing to tell Lua
		c.setState(stateEnded)
		return
	}
	if t := c.tlsOf(); t != nil && (t.awaitVerdict(cause) || t.endUnstarted()) {
		return // closed() waits for the handshake's verdict, or is not owed (tls.go)
	}
	c.closedWith(cause)
}

// closedWith is Closed once nothing waits any more.
func (c *Conn) closedWith(cause error) {
	h := c.sshOf()
	if h != nil {
		c.sshEnd(h)
	}
	c.end(cause, stateEnded)
	if c.ws != nil {
		c.ws.stop()
	}
	if t := c.tlsOf(); t != nil {
		t.drop()
	}
	if h != nil {
		delete(c.srv.ssh.byConn, c)
	}
}

// end runs closed(code, reason) once and forgets the connection; to is
// stateClosing while a WebSocket close handshake goes on, else stateEnded.
func (c *Conn) end(cause error, to connState) {
	if c.ended() {
		if to == stateEnded {
			c.setState(stateEnded) // the close handshake is over
		}
		return
	}
	c.setState(to)
	delete(c.srv.conns, c.id)
	c.srv.ps.dropConn(c)
	for _, t := range c.timers {
		t.stop()
	}
	c.timers = nil
	code, reason := c.describe(cause)
	c.srv.stats.obs.Closed[closeCauseOf(cause, reason)]++
	var luaCode lua.LValue = lua.LNil
	if code != 0 {
		luaCode = lua.LNumber(code)
	}
	c.call(evClosed, 2, luaCode, lua.LString(reason), 0)
}

func (c *Conn) describe(cause error) (int, string) {
	code := 0
	if c.ws != nil {
		code = 1006 // no close frame was exchanged
	}
	// The poll sentinels (errors.New) wrap nothing: answer them without
	// errors.As, whose target escapes (two allocations on every close).
	switch cause {
	case nil:
		return code, "closed"
	case poll.ErrPeerClosed:
		return code, "peer closed"
	case poll.ErrSlowConsumer:
		return code, "slow consumer"
	case poll.ErrShutdown:
		return code, "shutdown"
	}
	if cc, ok := cause.(*closeCause); ok {
		return cc.code, cc.reason
	}
	var cc *closeCause
	if errors.As(cause, &cc) {
		return cc.code, cc.reason
	}
	var errno unix.Errno
	if errors.As(cause, &errno) {
		return code, errno.Error()
	}
	return code, cause.Error()
}

// closeWith is every deliberate close: by the script, an error, shutdown.
// kind is the cause /metrics counts it under.
func (c *Conn) closeWith(code int, reason string, kind bindings.CloseCause) {
	if c.ended() || !c.pc.Open() {
		return
	}
	if c.ws != nil {
		c.wsClose(code, reason, kind)
		return
	}
	if t := c.tlsOf(); t != nil {
		if t.deferClose(&closeCause{reason: reason, kind: kind}) {
			return
		}
		t.closeNotify()
	}
	c.pc.Close(&closeCause{reason: reason, kind: kind})
}

// bindings.Conn

func (c *Conn) ID() int64 { return c.id }
func (c *Conn) FD() int   { return c.pc.FD() }

func (c *Conn) Peer() string { return c.peer.String() }

func (c *Conn) LocalAddr() string {
	sa, err := unix.Getsockname(c.pc.FD())
	if err != nil {
		return ""
	}
	h, p := poll.SockaddrHostPort(sa)
	return poll.JoinHostPort(h, p)
}

func (c *Conn) Version() int { return c.cls.version }

func (c *Conn) Mode() string {
	if c.ws != nil {
		return "websocket"
	}
	if c.sshOf() != nil {
		return "ssh"
	}
	return "raw"
}

func (c *Conn) Open() bool { return !c.ended() && c.pc.Open() }

func (c *Conn) Send(data, kind string) (bool, error) {
	if c.ws != nil {
		return c.wsSend(data, kind)
	}
	if c.sshOf() != nil {
		return false, errors.New("send: this connection speaks SSH; send on a session (self:send in the session class)")
	}
	if kind != "" {
		return false, fmt.Errorf("send: kind %q needs websocket mode (call conn:upgrade first)", kind)
	}
	if c.ended() || !c.pc.Open() {
		return false, nil
	}
	obs := &c.srv.stats.obs
	obs.BytesOut[c.cls.proto] += int64(len(data))
	obs.MessagesOut[c.cls.proto]++
	return c.writeString(data), nil
}

func (c *Conn) Close(code int, reason string) error {
	if c.ws != nil {
		if code == 0 {
			code = ws.CloseNormal
		}
		if !ws.ValidCloseCode(code) {
			return fmt.Errorf("close: %d is not a close code a server may send (1000-1003, 1007-1014, 3000-4999)", code)
		}
		if len(reason) > 123 {
			return fmt.Errorf("close: the reason is %d bytes; the limit is 123", len(reason))
		}
	}
	if reason == "" {
		reason = "closed"
	}
	c.closeWith(code, reason, bindings.CloseScript)
	return nil
}

func (c *Conn) Buffered() int { return c.pc.Queued() }
func (c *Conn) Pause()        { c.pc.Pause() }

func (c *Conn) Resume() {
	c.pc.Resume()
	if t := c.tlsOf(); t != nil {
		t.resumed()
	}
	if c.ws != nil && c.ws.pending != nil {
		c.scheduleFeed()
	}
}

func (c *Conn) After(d time.Duration, fn *lua.LFunction) bindings.Timer {
	return c.srv.newTimer(c, d, fn, false)
}

// endBeforeStart ends a connection that never ran start(), so closed() is
// not owed: what accept(info) may have set up (timers, subscriptions) goes
// with it.
func (c *Conn) endBeforeStart() {
	c.setState(stateEnded)
	delete(c.srv.conns, c.id)
	for _, lt := range c.timers {
		lt.stop()
	}
	c.timers = nil
	c.srv.ps.dropConn(c)
}
