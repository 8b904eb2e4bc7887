package scripttest

import (
	_ "embed"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"pocketlua/bindings"
	"pocketlua/ws"
)

// ModuleName is what test files require.
const ModuleName = "pocketlua.test"

const handleType = "pocketlua.test.conn"

// assertions are the module's Lua half (t.eq, t.ok, ...).
//
//go:embed assert.lua
var assertions string

// handshakeKey is the sample key of RFC 6455 section 1.3.
const handshakeKey = "dGhlIHNhbXBsZSBub25jZQ=="

// test is one t.test(name, fn) of a file.
type test struct {
	name string
	fn   *lua.LFunction
}

// newModule builds the t table for world w; registered tests go to *tests.
func newModule(L *lua.LState, w *world, dir string, tests *[]test) *lua.LTable {
	registerHandle(L, w)
	t := L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"test": func(L *lua.LState) int {
			name, fn := L.CheckString(1), L.CheckFunction(2)
			for _, x := range *tests {
				if x.name == name {
					L.ArgError(1, "a test named "+quote(name)+" is already defined in this file")
				}
			}
			*tests = append(*tests, test{name, fn})
			return 0
		},
		"connect": func(L *lua.LState) int { return w.connectLua(L) },
		"advance": func(L *lua.LState) int {
			s := float64(L.CheckNumber(1))
			if s < 0 || s != s || s > 1e9 {
				L.ArgError(1, "seconds must be between 0 and 1e9")
			}
			w.clock.advance(L, time.Duration(s*float64(time.Second)))
			return 0
		},
		"now": func(L *lua.LState) int {
			L.Push(lua.LNumber(w.clock.now.Seconds()))
			return 1
		},
		"dialed": func(L *lua.LState) int {
			L.Push(w.dialed)
			return 1
		},
		"listeners": func(L *lua.LState) int {
			L.Push(w.bound)
			return 1
		},
		"shutdown_requested": func(L *lua.LState) int {
			L.Push(lua.LBool(w.shutdown))
			return 1
		},
		"reloads": func(L *lua.LState) int {
			L.Push(lua.LNumber(w.reloads))
			return 1
		},
		"show": func(L *lua.LState) int {
			L.Push(lua.LString(bindings.Pretty(L.Get(1), bindings.PrettyOptions{Depth: 4, MaxBytes: 4096, OneLine: true})))
			return 1
		},
	})
	t.RawSetString("dir", lua.LString(dir))
	fn, err := L.Load(strings.NewReader(assertions), "embedded:pocketlua.test")
	if err != nil {
		panic("scripttest: assert.lua: " + err.Error())
	}
	L.Push(fn)
	L.Push(t)
	L.Call(1, 0)
	return t
}

func quote(s string) string { return bindings.Pretty(lua.LString(s), bindings.PrettyOptions{}) }

// connectLua is t.connect(Class[, {peer=, local_addr=, kind=, path=, headers=}]):
// accept and start run as for an accepted connection; kind "websocket" also
// sends an opening handshake, which the class must accept.
func (w *world) connectLua(L *lua.LState) int {
	class := L.CheckTable(1)
	opts := L.OptTable(2, L.NewTable())
	str := func(name, def string) string {
		switch v := opts.RawGetString(name).(type) {
		case lua.LString:
			return string(v)
		case *lua.LNilType:
			return def
		}
		L.ArgError(2, name+" must be a string")
		return ""
	}
	kind := str("kind", "raw")
	if kind != "raw" && kind != "websocket" {
		L.ArgError(2, `kind must be "raw" or "websocket", not `+quote(kind))
	}
	if class.RawGetString("__index") == lua.LNil {
		class.RawSetString("__index", class) // as the engine does, so instances find the methods
	}
	c := w.newConn(class, str("peer", ""), str("local_addr", ""))
	w.stats.accepted++
	if fn, ok := L.GetField(c.inst, "accept").(*lua.LFunction); ok && fn != nil {
		info := L.CreateTable(0, 3)
		info.RawSetString("id", lua.LNumber(c.id))
		info.RawSetString("peer", lua.LString(c.peer))
		info.RawSetString("local_addr", lua.LString(c.local))
		ret := c.call("accept", 1, info)
		if c.state == connEnded {
			L.Push(c.handle)
			return 1
		}
		if ret == lua.LFalse {
			c.state = connEnded
			delete(w.conns, c.id)
			w.stats.refused++
			c.handle.RawSetString("refused", lua.LTrue)
			c.handle.RawSetString("closed", lua.LTrue)
			L.Push(c.handle)
			return 1
		}
	}
	c.call("start", 0)
	if kind == "websocket" {
		w.handshake(L, c, str("path", "/"), opts.RawGetString("headers"))
	}
	L.Push(c.handle)
	return 1
}

// handshake sends an opening handshake through the class's data handler
// and moves the answer from c.sent to c.handshake.
func (w *world) handshake(L *lua.LState, c *fakeConn, path string, headers lua.LValue) {
	var b strings.Builder
	b.WriteString("GET " + path + " HTTP/1.1\r\nHost: " + c.local + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + handshakeKey + "\r\nSec-WebSocket-Version: 13\r\n")
	if h, ok := headers.(*lua.LTable); ok {
		h.ForEach(func(k, v lua.LValue) {
			b.WriteString(k.String() + ": " + v.String() + "\r\n")
		})
	} else if headers != lua.LNil {
		L.ArgError(2, "headers must be a table")
	}
	b.WriteString("\r\n")
	if c.state == connOpen {
		c.call("data", 0, lua.LString(b.String()))
	}
	if !c.websocket {
		answer := concat(c.sent)
		status, _, _ := strings.Cut(answer, "\r\n")
		if status == "" {
			status = "no answer"
		}
		L.RaiseError("t.connect: the class did not accept the WebSocket handshake for %s: %s", path, status)
	}
	// What went before conn:upgrade is the answer; what open() sent stays.
	var answer strings.Builder
	sent, kinds := L.NewTable(), L.NewTable()
	for i := 1; i <= c.sent.Len(); i++ {
		if i <= c.upgradeAt {
			answer.WriteString(lua.LVAsString(c.sent.RawGetInt(i)))
		} else {
			sent.Append(c.sent.RawGetInt(i))
			kinds.Append(c.kinds.RawGetInt(i))
		}
	}
	if !strings.Contains(answer.String(), ws.AcceptKey(handshakeKey)) {
		L.RaiseError("t.connect: the handshake answer lacks the Sec-WebSocket-Accept for the key sent: %q", answer.String())
	}
	c.handle.RawSetString("handshake", lua.LString(answer.String()))
	c.clear(L)
	c.sent, c.kinds = sent, kinds
	c.handle.RawSetString("sent", sent)
	c.handle.RawSetString("kinds", kinds)
}

func concat(t *lua.LTable) string {
	var b strings.Builder
	for i := 1; i <= t.Len(); i++ {
		b.WriteString(lua.LVAsString(t.RawGetInt(i)))
	}
	return b.String()
}

func (c *fakeConn) clear(L *lua.LState) {
	c.sent, c.kinds, c.pings = L.NewTable(), L.NewTable(), L.NewTable()
	c.handle.RawSetString("sent", c.sent)
	c.handle.RawSetString("kinds", c.kinds)
	c.handle.RawSetString("pings", c.pings)
}

// registerHandle makes the metatable of the tables t.connect returns: the
// peer's side of a fake connection.
func registerHandle(L *lua.LState, w *world) {
	mt := L.NewTypeMetatable(handleType)
	check := func(L *lua.LState, what string) *fakeConn {
		c := w.byHandle[L.CheckTable(1)]
		if c == nil {
			L.ArgError(1, "a connection from t.connect or t.dialed expected (call it as c:"+what+"(...))")
		}
		return c
	}
	// deliverable checks that an event can reach the instance now.
	deliverable := func(L *lua.LState, c *fakeConn, what string, websocket bool) {
		switch {
		case c.state == connConnecting:
			L.RaiseError("c:%s: the connection is still connecting (call c:connect() first)", what)
		case c.state == connEnded:
			L.RaiseError("c:%s: the connection is closed (%s)", what, lua.LVAsString(c.handle.RawGetString("close_reason")))
		case c.paused:
			L.RaiseError("c:%s: the script paused reading (conn:pause()); let it resume first, e.g. with c:drain()", what)
		case websocket && !c.websocket:
			L.RaiseError("c:%s: the connection is not in websocket mode (connect with kind = \"websocket\")", what)
		case !websocket && c.websocket:
			L.RaiseError("c:%s: the connection is in websocket mode: deliver messages with c:message", what)
		}
	}
	L.SetField(mt, "__index", L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"data": func(L *lua.LState) int {
			c := check(L, "data")
			bytes := L.CheckString(2)
			deliverable(L, c, "data", false)
			c.call("data", 0, lua.LString(bytes))
			return 0
		},
		"message": func(L *lua.LState) int {
			c := check(L, "message")
			payload := L.CheckString(2)
			kind := L.OptString(3, "text")
			if kind != "text" && kind != "binary" {
				L.ArgError(3, `kind must be "text" or "binary"`)
			}
			deliverable(L, c, "message", true)
			if kind == "text" && !ws.ValidUTF8([]byte(payload)) {
				// What the engine does with such a frame.
				c.closeSent = true
				c.handle.RawSetString("close_code", lua.LNumber(ws.CloseInvalidPayload))
				c.handle.RawSetString("close_reason", lua.LString("invalid UTF-8"))
				c.end(ws.CloseInvalidPayload, "invalid UTF-8")
				return 0
			}
			c.call("message", 0, lua.LString(payload), lua.LString(kind))
			return 0
		},
		"ping": func(L *lua.LState) int {
			c := check(L, "ping")
			payload := L.OptString(2, "")
			deliverable(L, c, "ping", true)
			c.call("ping", 0, lua.LString(payload))
			return 0
		},
		"pong": func(L *lua.LState) int {
			c := check(L, "pong")
			payload := L.OptString(2, "")
			deliverable(L, c, "pong", true)
			c.call("pong", 0, lua.LString(payload))
			return 0
		},
		"close": func(L *lua.LState) int {
			c := check(L, "close")
			if c.state == connEnded {
				return 0
			}
			if c.websocket {
				c.end(L.OptInt(2, ws.CloseNoStatus), L.OptString(3, ""))
			} else {
				c.end(0, "peer closed")
			}
			return 0
		},
		"drain": func(L *lua.LState) int {
			c := check(L, "drain")
			c.handle.RawSetString("full", lua.LFalse)
			if c.state == connOpen {
				c.call("drain", 0)
			}
			return 0
		},
		"output": func(L *lua.LState) int {
			L.Push(lua.LString(concat(check(L, "output").sent)))
			return 1
		},
		"clear": func(L *lua.LState) int {
			check(L, "clear").clear(L)
			return 0
		},
		"connect": func(L *lua.LState) int {
			c := check(L, "connect")
			if c.state != connConnecting {
				L.RaiseError("c:connect: only a connection made by server.connect and not yet connected can connect")
			}
			c.state = connOpen
			c.call("start", 0)
			return 0
		},
		"fail": func(L *lua.LState) int {
			c := check(L, "fail")
			if c.state != connConnecting {
				L.RaiseError("c:fail: only a connection made by server.connect and not yet connected can fail")
			}
			c.end(0, L.OptString(2, "connection refused"))
			return 0
		},
	}))
}
