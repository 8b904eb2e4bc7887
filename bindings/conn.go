package bindings

import (
	"time"

	lua "github.com/yuin/gopher-lua"
)

const (
	connType     = "pocketlua.conn"
	timerType    = "pocketlua.timer"
	listenerType = "pocketlua.listener"
)

var connMethods = map[string]lua.LGFunction{
	"send":        connSend,
	"send_text":   func(L *lua.LState) int { return sendKind(L, "text") },
	"send_binary": func(L *lua.LState) int { return sendKind(L, "binary") },
	"ping":        connPing,
	"close":       connClose,
	"buffered":    func(L *lua.LState) int { L.Push(lua.LNumber(checkConn(L).Buffered())); return 1 },
	"pause":       func(L *lua.LState) int { checkConn(L).Pause(); return 0 },
	"resume":      func(L *lua.LState) int { checkConn(L).Resume(); return 0 },
	"is_open":     func(L *lua.LState) int { L.Push(lua.LBool(checkConn(L).Open())); return 1 },
	"after":       connAfter,
	"upgrade":     connUpgrade,
	"start_tls":   connStartTLS,

	"subscribe":   func(L *lua.LState) int { return subscription(L, "subscribe") },
	"unsubscribe": func(L *lua.LState) int { return subscription(L, "unsubscribe") },
}

// registerConn creates the conn metatable: methods, then read-only fields.
func registerConn(L *lua.LState) {
	mt := L.NewTypeMetatable(connType)
	methods := L.SetFuncs(L.NewTable(), connMethods)
	L.SetField(mt, "methods", methods) // for tools that list the API (pocketlua types' test)
	L.SetField(mt, "__index", L.NewClosure(func(L *lua.LState) int {
		c := checkConn(L)
		key := L.CheckString(2)
		if m := methods.RawGetString(key); m != lua.LNil {
			L.Push(m)
			return 1
		}
		switch key {
		case "id":
			L.Push(lua.LNumber(c.ID()))
		case "fd":
			L.Push(lua.LNumber(c.FD()))
		case "peer":
			L.Push(lua.LString(c.Peer()))
		case "local_addr":
			L.Push(lua.LString(c.LocalAddr()))
		case "version":
			L.Push(lua.LNumber(c.Version()))
		case "mode":
			L.Push(lua.LString(c.Mode()))
		case "tls":
			L.Push(tlsTable(L, c))
		default:
			L.Push(lua.LNil)
		}
		return 1
	}))
	L.SetField(mt, "__newindex", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("conn fields are read-only (store state on the instance, self.%s = ...)", L.CheckString(2))
		return 0
	}))
	L.SetField(mt, "__tostring", L.NewFunction(func(L *lua.LState) int {
		c := checkConn(L)
		L.Push(lua.LString("conn#" + lua.LNumber(c.ID()).String() + " " + c.Peer()))
		return 1
	}))
}

// AcceptInfo is accept(info)'s argument: the connection's id, peer and
// local address.
func AcceptInfo(L *lua.LState, c Conn) *lua.LTable {
	info := L.CreateTable(0, 3)
	info.RawSetString("id", lua.LNumber(c.ID()))
	info.RawSetString("peer", lua.LString(c.Peer()))
	info.RawSetString("local_addr", lua.LString(c.LocalAddr()))
	return info
}

// NewConn wraps c in a `conn` userdata.
func NewConn(L *lua.LState, c Conn) *lua.LUserData {
	ud := L.NewUserData()
	ud.Value = c
	L.SetMetatable(ud, L.GetTypeMetatable(connType))
	return ud
}

func checkConn(L *lua.LState) Conn {
	ud := L.CheckUserData(1)
	if c, ok := ud.Value.(Conn); ok {
		return c
	}
	L.ArgError(1, "conn expected")
	return nil
}

// ConnOf returns the Conn behind a value: a conn userdata or an instance
// table holding one in its `conn` field.
func ConnOf(v lua.LValue) Conn {
	if t, ok := v.(*lua.LTable); ok {
		v = t.RawGetString("conn")
	}
	if ud, ok := v.(*lua.LUserData); ok {
		if c, ok := ud.Value.(Conn); ok {
			return c
		}
	}
	return nil
}

func pushSendResult(L *lua.LState, ok bool, err error) int {
	if err != nil {
		L.RaiseError("%s", err.Error())
	}
	L.Push(lua.LBool(ok))
	return 1
}

func connSend(L *lua.LState) int {
	c := checkConn(L)
	data := L.CheckString(2)
	kind := L.OptString(3, "")
	ok, err := c.Send(data, kind)
	return pushSendResult(L, ok, err)
}

func sendKind(L *lua.LState, kind string) int {
	c := checkConn(L)
	ok, err := c.Send(L.CheckString(2), kind)
	return pushSendResult(L, ok, err)
}

func connPing(L *lua.LState) int {
	c := checkConn(L)
	ok, err := c.Ping(L.OptString(2, ""))
	return pushSendResult(L, ok, err)
}

func connClose(L *lua.LState) int {
	c := checkConn(L)
	code := L.OptInt(2, 0)
	reason := L.OptString(3, "")
	if err := c.Close(code, reason); err != nil {
		L.RaiseError("%s", err.Error())
	}
	return 0
}

func connAfter(L *lua.LState) int {
	c := checkConn(L)
	d := checkSeconds(L, 2)
	fn := L.CheckFunction(3)
	L.Push(newTimer(L, c.After(d, fn)))
	return 1
}

func connUpgrade(L *lua.LState) int {
	c := checkConn(L)
	mode := L.CheckString(2)
	leftover := L.OptString(4, "")
	decode := decodeUpgradeOptions
	if mode == "ssh" {
		decode = decodeSSHOptions
	}
	opts, err := decode(L.OptTable(3, nil))
	if err == nil {
		err = c.Upgrade(mode, opts, leftover)
	}
	if err != nil {
		L.RaiseError("upgrade: %s", err.Error())
	}
	return 0
}

// checkSeconds reads a non-negative duration given in seconds.
func checkSeconds(L *lua.LState, n int) time.Duration {
	s := float64(L.CheckNumber(n))
	if s < 0 || s != s || s > 1e9 {
		L.ArgError(n, "seconds must be between 0 and 1e9")
	}
	return time.Duration(s * float64(time.Second))
}

func registerTimer(L *lua.LState) {
	mt := L.NewTypeMetatable(timerType)
	L.SetField(mt, "__index", L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"cancel": func(L *lua.LState) int {
			L.Push(lua.LBool(checkTimer(L).Cancel()))
			return 1
		},
		"pending": func(L *lua.LState) int {
			L.Push(lua.LBool(checkTimer(L).Pending()))
			return 1
		},
	}))
}

func newTimer(L *lua.LState, t Timer) *lua.LUserData {
	ud := L.NewUserData()
	ud.Value = t
	L.SetMetatable(ud, L.GetTypeMetatable(timerType))
	return ud
}

func checkTimer(L *lua.LState) Timer {
	ud := L.CheckUserData(1)
	if t, ok := ud.Value.(Timer); ok {
		return t
	}
	L.ArgError(1, "timer expected")
	return nil
}

func registerListener(L *lua.LState) {
	mt := L.NewTypeMetatable(listenerType)
	methods := L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"close": func(L *lua.LState) int { checkListener(L).Close(); return 0 },
	})
	L.SetField(mt, "methods", methods)
	L.SetField(mt, "__index", L.NewFunction(func(L *lua.LState) int {
		ln := checkListener(L)
		key := L.CheckString(2)
		switch key {
		case "host":
			L.Push(lua.LString(ln.Host()))
		case "port":
			L.Push(lua.LNumber(ln.Port()))
		default:
			L.Push(methods.RawGetString(key))
		}
		return 1
	}))
}

func newListener(L *lua.LState, ln Listener) *lua.LUserData {
	ud := L.NewUserData()
	ud.Value = ln
	L.SetMetatable(ud, L.GetTypeMetatable(listenerType))
	return ud
}

func checkListener(L *lua.LState) Listener {
	ud := L.CheckUserData(1)
	if ln, ok := ud.Value.(Listener); ok {
		return ln
	}
	L.ArgError(1, "listener expected")
	return nil
}
