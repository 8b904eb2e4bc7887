package scripttest

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"time"

	lua "github.com/yuin/gopher-lua"

	"pocketlua/bindings"
	"pocketlua/shared"
	"pocketlua/ws"
)

// world is one test's fake server: its connections, listeners, server.state
// tables and virtual clock. It serves the bindings as the engine does, with
// no sockets: what a script sends lands in the test's handle tables.
type world struct {
	L        *lua.LState
	conns    map[int64]*fakeConn
	byHandle map[*lua.LTable]*fakeConn
	nextID   int64
	nextPort int
	dialed   *lua.LTable // handles of server.connect attempts, in order
	bound    *lua.LTable // {host, port, class, closed} of each socket_bind/listen, in order
	states   *lua.LTable
	clock    clock
	stats    struct{ accepted, refused, outbound int64 }
	shutdown bool
	reloads  int
	dir      string                 // the test file's folder: server.script_dir()
	subs     map[*fakeConn][]string // topic subscriptions (pubsub.go)
	dicts    *shared.Registry       // server.shared, on the virtual clock
}

func newWorld() *world {
	return &world{conns: make(map[int64]*fakeConn), byHandle: make(map[*lua.LTable]*fakeConn), nextPort: 40000}
}

// attach is called once the state exists: tables live in it.
func (w *world) attach(L *lua.LState) {
	w.L = L
	w.dialed = L.NewTable()
	w.bound = L.NewTable()
	w.states = L.NewTable()
}

// Connection states of a fake connection.
const (
	connConnecting = iota // outbound, until the test calls c:connect() or c:fail()
	connOpen
	connEnded
)

// fakeConn is one connection: the bindings.Conn the script drives, and the
// handle table the test holds (sent, kinds, closed, close_code, ...).
type fakeConn struct {
	w         *world
	id        int64
	peer      string
	local     string
	inst      *lua.LTable
	handle    *lua.LTable
	sent      *lua.LTable
	kinds     *lua.LTable
	pings     *lua.LTable
	websocket bool
	state     int
	closeSent bool // websocket: the script started the close handshake
	paused    bool
	upgradeAt int // how many sends came before conn:upgrade (the handshake answer)
	timers    []*vtimer
}

func (w *world) newConn(class *lua.LTable, peer, local string) *fakeConn {
	L := w.L
	w.nextID++
	c := &fakeConn{w: w, id: w.nextID, peer: peer, local: local, state: connOpen}
	if c.peer == "" {
		c.peer = "127.0.0.1:" + strconv.Itoa(50000+int(c.id))
	}
	if c.local == "" {
		c.local = "127.0.0.1:9002"
	}
	c.inst = L.CreateTable(0, 4)
	c.inst.RawSetString("conn", bindings.NewConn(L, c))
	c.inst.Metatable = class
	c.sent, c.kinds, c.pings = L.NewTable(), L.NewTable(), L.NewTable()
	c.handle = L.CreateTable(0, 12)
	c.handle.Metatable = L.GetTypeMetatable(handleType)
	c.handle.RawSetString("instance", c.inst)
	c.handle.RawSetString("sent", c.sent)
	c.handle.RawSetString("kinds", c.kinds)
	c.handle.RawSetString("pings", c.pings)
	c.handle.RawSetString("id", lua.LNumber(c.id))
	c.handle.RawSetString("peer", lua.LString(c.peer))
	c.handle.RawSetString("closed", lua.LFalse)
	c.handle.RawSetString("paused", lua.LFalse)
	c.handle.RawSetString("mode", lua.LString("raw"))
	w.conns[c.id] = c
	w.byHandle[c.handle] = c
	return c
}

// call runs the instance's handler for ev, if its class has one; errors
// propagate to the test.
func (c *fakeConn) call(ev string, nret int, args ...lua.LValue) lua.LValue {
	L := c.w.L
	fn, ok := L.GetField(c.inst, ev).(*lua.LFunction)
	if !ok {
		return lua.LNil
	}
	L.Push(fn)
	L.Push(c.inst)
	for _, a := range args {
		L.Push(a)
	}
	L.Call(1+len(args), nret)
	if nret == 0 {
		return lua.LNil
	}
	ret := L.Get(-1)
	L.Pop(1)
	return ret
}

// end runs closed(code, reason) once, as the engine does, and stops the
// connection's timers.
func (c *fakeConn) end(code int, reason string) {
	if c.state == connEnded {
		return
	}
	c.state = connEnded
	delete(c.w.conns, c.id)
	for _, t := range c.timers {
		t.cancelled = true
	}
	c.timers = nil
	c.handle.RawSetString("closed", lua.LTrue)
	var luaCode lua.LValue = lua.LNil
	if code != 0 {
		luaCode = lua.LNumber(code)
	}
	c.call("closed", 0, luaCode, lua.LString(reason))
}

// bindings.Conn

func (c *fakeConn) ID() int64         { return c.id }
func (c *fakeConn) FD() int           { return -1 }
func (c *fakeConn) Peer() string      { return c.peer }
func (c *fakeConn) LocalAddr() string { return c.local }
func (c *fakeConn) Version() int      { return 1 }
func (c *fakeConn) Open() bool        { return c.state == connOpen && !c.closeSent }
func (c *fakeConn) Buffered() int     { return 0 }

func (c *fakeConn) Mode() string {
	if c.websocket {
		return "websocket"
	}
	return "raw"
}

// Send checks its arguments as the engine does and records the data.
func (c *fakeConn) Send(data, kind string) (bool, error) {
	if c.websocket {
		switch kind {
		case "", "text": // the engine's default: a string reaches a browser as a string
			kind = "text"
			if !ws.ValidUTF8([]byte(data)) {
				return false, fmt.Errorf("send: a text message must be valid UTF-8 (send it as \"binary\")")
			}
		case "binary":
		default:
			return false, fmt.Errorf("send: kind must be \"text\" or \"binary\", not %q", kind)
		}
	} else if kind != "" {
		return false, fmt.Errorf("send: kind %q needs websocket mode (call conn:upgrade first)", kind)
	} else {
		kind = "raw"
	}
	if !c.Open() && c.state != connConnecting {
		return false, nil
	}
	c.record(data, kind)
	return !c.full(), nil
}

// full reports the test's c.full: sends report false, as above the high-water mark.
func (c *fakeConn) full() bool { return lua.LVAsBool(c.handle.RawGetString("full")) }

func (c *fakeConn) record(data, kind string) {
	c.sent.Append(lua.LString(data))
	c.kinds.Append(lua.LString(kind))
}

func (c *fakeConn) Ping(payload string) (bool, error) {
	if !c.websocket {
		return false, fmt.Errorf("ping needs websocket mode")
	}
	if len(payload) > 125 {
		return false, fmt.Errorf("ping: the payload is %d bytes; the limit is 125", len(payload))
	}
	if !c.Open() {
		return false, nil
	}
	c.pings.Append(lua.LString(payload))
	return !c.full(), nil
}

// Close records the close the server sends and runs closed at once, as the
// engine does for a WebSocket close handshake or a raw close.
func (c *fakeConn) Close(code int, reason string) error {
	if c.websocket {
		if code == 0 {
			code = ws.CloseNormal
		}
		if !ws.ValidCloseCode(code) {
			return fmt.Errorf("close: %d is not a close code a server may send (1000-1003, 1007-1014, 3000-4999)", code)
		}
		if len(reason) > 123 {
			return fmt.Errorf("close: the reason is %d bytes; the limit is 123", len(reason))
		}
	} else {
		code = 0
	}
	if reason == "" {
		reason = "closed"
	}
	if c.state == connEnded || c.closeSent {
		return nil
	}
	c.closeSent = true
	if code != 0 {
		c.handle.RawSetString("close_code", lua.LNumber(code))
	}
	c.handle.RawSetString("close_reason", lua.LString(reason))
	c.end(code, reason)
	return nil
}

func (c *fakeConn) Pause() {
	c.paused = true
	c.handle.RawSetString("paused", lua.LTrue)
}

func (c *fakeConn) Resume() {
	c.paused = false
	c.handle.RawSetString("paused", lua.LFalse)
}

func (c *fakeConn) After(d time.Duration, fn *lua.LFunction) bindings.Timer {
	t := c.w.clock.add(d, fn, false, c)
	if c.state == connEnded {
		t.cancelled = true // never fires, as in the engine
	} else {
		c.timers = append(c.timers, t)
	}
	return t
}

func (c *fakeConn) Upgrade(mode string, opts *bindings.UpgradeOptions, leftover string) error {
	if mode != "websocket" {
		return fmt.Errorf("unknown mode %q (want \"websocket\")", mode)
	}
	if c.websocket {
		return fmt.Errorf("already in websocket mode")
	}
	if !c.Open() {
		return fmt.Errorf("connection is closed")
	}
	if leftover != "" {
		return fmt.Errorf("the test connection does not decode frames sent with the handshake (%d bytes)", len(leftover))
	}
	c.websocket = true
	c.upgradeAt = c.sent.Len()
	c.handle.RawSetString("mode", lua.LString("websocket"))
	return nil
}

// fakeListener is what server.socket_bind and server.listen return; the
// test sees it as rec in t.listeners().
type fakeListener struct {
	host string
	port int
	rec  *lua.LTable
}

func (l *fakeListener) Host() string { return l.host }
func (l *fakeListener) Port() int    { return l.port }
func (l *fakeListener) Close()       { l.rec.RawSetString("closed", lua.LTrue) }

// bindings.Server

func (w *world) SocketBind(host string, port int, class *lua.LTable) (bindings.Listener, error) {
	if host == "" {
		host = "127.0.0.1"
	}
	if port < 0 || port > 65535 {
		return nil, fmt.Errorf("socket_bind: bad port %d", port)
	}
	if port == 0 {
		w.nextPort++
		port = w.nextPort
	}
	rec := w.L.CreateTable(0, 4)
	rec.RawSetString("host", lua.LString(host))
	rec.RawSetString("port", lua.LNumber(port))
	rec.RawSetString("closed", lua.LFalse)
	if class != nil {
		rec.RawSetString("class", class)
	}
	w.bound.Append(rec)
	return &fakeListener{host: host, port: port, rec: rec}, nil
}

// Connect makes an outbound connection that stays connecting until the test
// calls c:connect() (start runs) or c:fail(reason) (closed(nil, reason) runs).
func (w *world) Connect(host string, port int, class *lua.LTable, timeout time.Duration) (*lua.LTable, error) {
	if port <= 0 || port > 65535 {
		return nil, fmt.Errorf("connect: bad port %d", port)
	}
	c := w.newConn(class, net.JoinHostPort(host, strconv.Itoa(port)), "127.0.0.1:"+strconv.Itoa(50000+int(w.nextID)))
	c.state = connConnecting
	c.handle.RawSetString("host", lua.LString(host))
	c.handle.RawSetString("port", lua.LNumber(port))
	w.dialed.Append(c.handle)
	w.stats.outbound++
	return c.inst, nil
}

// open lists the open connections in the order they were made.
func (w *world) open() []*fakeConn {
	var cs []*fakeConn
	for _, c := range w.conns {
		if c.state == connOpen {
			cs = append(cs, c)
		}
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].id < cs[j].id })
	return cs
}

func (w *world) Connections() []*lua.LTable {
	var insts []*lua.LTable
	for _, c := range w.open() {
		insts = append(insts, c.inst)
	}
	return insts
}

func (w *world) Count() int { return len(w.open()) }

// Broadcast follows the engine: raw data to raw connections, text or
// binary messages to WebSocket connections that have not closed.
func (w *world) Broadcast(data, kind string, except bindings.Conn) (int, error) {
	switch kind {
	case "", "raw":
		kind = "raw"
	case "text":
		if !ws.ValidUTF8([]byte(data)) {
			return 0, fmt.Errorf("broadcast: a text message must be valid UTF-8")
		}
	case "binary":
	default:
		return 0, fmt.Errorf("broadcast: kind must be \"text\", \"binary\" or \"raw\", not %q", kind)
	}
	n := 0
	for _, c := range w.open() {
		if except != nil && except == bindings.Conn(c) || c.websocket != (kind != "raw") || c.closeSent {
			continue
		}
		c.record(data, kind)
		n++
	}
	return n, nil
}

func (w *world) After(d time.Duration, fn *lua.LFunction, repeat bool) bindings.Timer {
	return w.clock.add(d, fn, repeat, nil)
}

func (w *world) Stats() bindings.Stats {
	return bindings.Stats{
		Connections: w.Count(),
		Accepted:    w.stats.accepted,
		Refused:     w.stats.refused,
		Outbound:    w.stats.outbound,
		Version:     1,
		Reloads:     int64(w.reloads),
		Poller:      "test",
		Worker:      1,
	}
}

func (w *world) Version() int { return 1 }
func (w *world) Shutdown()    { w.shutdown = true }

func (w *world) State(name string, def *lua.LTable) *lua.LTable {
	if t, ok := w.states.RawGetString(name).(*lua.LTable); ok {
		return t
	}
	if def == nil {
		def = w.L.NewTable()
	}
	w.states.RawSetString(name, def)
	return def
}

func (w *world) ReloadFromLua() { w.reloads++ }

func (w *world) ScriptDir() string { return w.dir }

// Watch accepts the file: a test run watches nothing.
func (w *world) Watch(path string) error { return nil }
