package bindings

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// Register installs the conn, timer and listener types and preloads the
// modules `server`, `log`, `ws`, `http`, `fs` and `json`; `server` and `log`
// are also globals, since nearly every script uses them.
func Register(L *lua.LState, srv Server, logger *slog.Logger) {
	registerConn(L)
	registerTimer(L)
	registerListener(L)
	registerShared(L)
	logMod := newLogModule(L, logger)
	serverMod := newServerModule(L, srv, logMod)
	L.PreloadModule("server", func(L *lua.LState) int { L.Push(serverMod); return 1 })
	L.PreloadModule("log", func(L *lua.LState) int { L.Push(logMod); return 1 })
	L.PreloadModule("ws", wsLoader)
	L.PreloadModule("http", httpLoader)
	L.PreloadModule("json", jsonLoader)
	L.PreloadModule("fs", fsLoader)
	L.SetGlobal("server", serverMod)
	L.SetGlobal("log", logMod)
}

func newServerModule(L *lua.LState, srv Server, logMod *lua.LTable) *lua.LTable {
	bind := func(L *lua.LState, host string, port int, class *lua.LTable, withTLS bool) int {
		var ln Listener
		var err error
		if withTLS {
			tb, ok := srv.(TLSBinder)
			if !ok {
				L.RaiseError("socket_bind: tls is not available here")
			}
			ln, err = tb.SocketBindTLS(host, port, class)
		} else {
			ln, err = srv.SocketBind(host, port, class)
		}
		if err != nil {
			L.RaiseError("%s", err.Error())
		}
		L.Push(newListener(L, ln))
		L.Push(lua.LString(ln.Host()))
		L.Push(lua.LNumber(ln.Port()))
		return 3
	}
	mod := L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"socket_bind": func(L *lua.LState) int {
			opts := L.OptTable(4, nil)
			return bind(L, L.OptString(1, ""), L.OptInt(2, 0), L.OptTable(3, nil), opts != nil && lua.LVAsBool(opts.RawGetString("tls")))
		},
		"listen": func(L *lua.LState) int {
			t := L.CheckTable(1)
			host := lua.LVAsString(t.RawGetString("host"))
			port, _ := t.RawGetString("port").(lua.LNumber)
			var class *lua.LTable
			if c, ok := t.RawGetString("class").(*lua.LTable); ok {
				class = c
			} else if t.RawGetString("class") != lua.LNil {
				L.ArgError(1, "class must be a table")
			}
			return bind(L, host, int(port), class, lua.LVAsBool(t.RawGetString("tls")))
		},
		"connect": func(L *lua.LState) int {
			host, port, class := L.CheckString(1), L.CheckInt(2), L.CheckTable(3)
			// connect_timeout: the options table, else the class (inherited), else the default.
			t := L.GetField(class, "connect_timeout")
			if opts := L.OptTable(4, nil); opts != nil && opts.RawGetString("connect_timeout") != lua.LNil {
				t = opts.RawGetString("connect_timeout")
			}
			var timeout time.Duration
			if t != lua.LNil {
				n, ok := t.(lua.LNumber)
				if !ok || n <= 0 || n > 1e9 {
					L.RaiseError("connect: connect_timeout must be a positive number of seconds, got %s", t.String())
				}
				timeout = time.Duration(float64(n) * float64(time.Second))
			}
			var inst *lua.LTable
			var err error
			if tlsOpts := clientTLSOptions(L, L.OptTable(4, nil)); tlsOpts != nil {
				tc, ok := srv.(TLSConnector)
				if !ok {
					L.RaiseError("connect: tls is not available here")
				}
				inst, err = tc.ConnectTLS(host, port, class, timeout, tlsOpts)
			} else {
				inst, err = srv.Connect(host, port, class, timeout)
			}
			if err != nil {
				L.Push(lua.LNil)
				L.Push(lua.LString(err.Error()))
				return 2
			}
			L.Push(inst)
			return 1
		},
		"connections": func(L *lua.LState) int {
			t := L.CreateTable(srv.Count(), 0)
			for _, inst := range srv.Connections() {
				t.Append(inst)
			}
			L.Push(t)
			return 1
		},
		"count": func(L *lua.LState) int {
			L.Push(lua.LNumber(srv.Count()))
			return 1
		},
		"broadcast": func(L *lua.LState) int {
			data := L.CheckString(1)
			var except Conn
			if L.GetTop() >= 2 && L.Get(2) != lua.LNil {
				if except = ConnOf(L.Get(2)); except == nil {
					L.ArgError(2, "conn or instance expected")
				}
			}
			kind := L.OptString(3, "")
			n, err := srv.Broadcast(data, kind, except)
			if err != nil {
				L.RaiseError("%s", err.Error())
			}
			L.Push(lua.LNumber(n))
			return 1
		},
		"after": func(L *lua.LState) int {
			L.Push(newTimer(L, srv.After(checkSeconds(L, 1), L.CheckFunction(2), false)))
			return 1
		},
		"every": func(L *lua.LState) int {
			d := checkSeconds(L, 1)
			if d <= 0 {
				L.ArgError(1, "interval must be positive")
			}
			L.Push(newTimer(L, srv.After(d, L.CheckFunction(2), true)))
			return 1
		},
		"stats": func(L *lua.LState) int {
			L.Push(StatsTable(L, srv.Stats()))
			return 1
		},
		"version": func(L *lua.LState) int {
			L.Push(lua.LNumber(srv.Version()))
			return 1
		},
		"shutdown": func(L *lua.LState) int {
			srv.Shutdown()
			return 0
		},
		"state": func(L *lua.LState) int {
			L.Push(srv.State(L.CheckString(1), L.OptTable(2, nil)))
			return 1
		},
		"reload": func(L *lua.LState) int {
			srv.ReloadFromLua()
			return 0
		},
		"has_tls": func(L *lua.LState) int {
			ts, ok := srv.(TLSServer)
			L.Push(lua.LBool(ok && ts.HasTLS()))
			return 1
		},
		"script_dir": func(L *lua.LState) int {
			L.Push(lua.LString(srv.ScriptDir()))
			return 1
		},
		"watch": func(L *lua.LState) int {
			if err := srv.Watch(L.CheckString(1)); err != nil {
				L.RaiseError("%s", err.Error())
			}
			return 0
		},
	})
	mod.RawSetString("log", logMod)
	addPubSub(L, mod, srv)
	addShared(L, mod, srv)
	return mod
}

// newLogModule maps log.debug/info/warn/error(msg, k, v, ... | {k=v}) to slog,
// tagged with the calling script's file:line (not a battery's).
func newLogModule(L *lua.LState, logger *slog.Logger) *lua.LTable {
	at := func(level slog.Level) lua.LGFunction {
		return func(L *lua.LState) int {
			if !logger.Enabled(context.Background(), level) {
				return 0
			}
			msg := L.CheckAny(1).String()
			var attrs []any
			// The script's own file:line; a battery's lines (access logs and
			// the like) name themselves, and "embedded:httpd.lua:571" is noise.
			if at := strings.TrimSuffix(L.Where(1), ":"); !strings.HasPrefix(at, "embedded:") {
				attrs = append(attrs, "at", at)
			}
			if t, ok := L.Get(2).(*lua.LTable); ok && L.GetTop() == 2 {
				t.ForEach(func(k, v lua.LValue) { attrs = append(attrs, k.String(), luaLogValue(v)) })
			} else {
				for i := 2; i <= L.GetTop(); i += 2 {
					attrs = append(attrs, L.Get(i).String(), luaLogValue(L.Get(i+1)))
				}
			}
			logger.Log(context.Background(), level, msg, attrs...)
			return 0
		}
	}
	return L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"debug": at(slog.LevelDebug),
		"info":  at(slog.LevelInfo),
		"warn":  at(slog.LevelWarn),
		"error": at(slog.LevelError),
	})
}

func luaLogValue(v lua.LValue) any {
	switch x := v.(type) {
	case lua.LNumber:
		if f := float64(x); f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int64(f) // counts and ids print as integers
		}
		return float64(x)
	case lua.LBool:
		return bool(x)
	case lua.LString:
		return string(x)
	case *lua.LNilType:
		return nil
	}
	return fmt.Sprint(v)
}

// StatsTable is server.stats()'s answer: every Stats field under its
// snake_case name, numbers but the poller's name.
func StatsTable(L *lua.LState, st Stats) *lua.LTable {
	t := L.CreateTable(0, 20)
	set := func(k string, v float64) { t.RawSetString(k, lua.LNumber(v)) }
	set("connections", float64(st.Connections))
	set("descriptors", float64(st.Descriptors))
	set("accepted", float64(st.Accepted))
	set("refused", float64(st.Refused))
	set("over_limit", float64(st.OverLimit))
	set("outbound", float64(st.Outbound))
	set("messages_in", float64(st.MessagesIn))
	set("messages_out", float64(st.MessagesOut))
	set("bytes_in", float64(st.BytesIn))
	set("bytes_out", float64(st.BytesOut))
	set("lua_errors", float64(st.LuaErrors))
	set("timeouts", float64(st.Timeouts))
	set("memory_interrupts", float64(st.MemoryInterrupts))
	set("goroutines", float64(st.Goroutines))
	set("heap_bytes", float64(st.HeapBytes))
	set("version", float64(st.Version))
	set("reloads", float64(st.Reloads))
	set("uptime", st.Uptime.Seconds())
	t.RawSetString("poller", lua.LString(st.Poller))
	set("worker", float64(st.Worker))
	set("ssh_connections", float64(st.SSHConnections))
	set("ssh_unauthenticated", float64(st.SSHUnauthenticated))
	set("ssh_accepted", float64(st.SSHAccepted))
	set("ssh_dropped", float64(st.SSHDropped))
	set("ssh_grace_timeouts", float64(st.SSHGraceTimeouts))
	set("ssh_auth_failures", float64(st.SSHAuthFailures))
	set("subscriptions", float64(st.PubSub.Subscriptions))
	set("published", float64(st.PubSub.Published))
	set("delivered", float64(st.PubSub.Delivered))
	set("pubsub_dropped", float64(st.PubSub.Dropped))
	set("pubsub_received", float64(st.PubSub.Received))
	t.RawSetString("broker", lua.LString(st.PubSub.Broker))
	set("broker_sent", float64(st.PubSub.BrokerSent))
	set("broker_received", float64(st.PubSub.BrokerReceived))
	set("broker_dropped", float64(st.PubSub.BrokerDropped))
	set("broker_idle", st.PubSub.BrokerIdle.Seconds())
	set("pubsub_held", float64(st.PubSub.Held))

	set("uring_buffers", float64(st.Uring.Buffers))
	set("uring_buffers_peak", float64(st.Uring.BuffersPeak))
	set("uring_buffers_max", float64(st.Uring.BuffersMax))
	set("uring_ring_grown", float64(st.Uring.Grown))
	set("uring_ring_shrunk", float64(st.Uring.Shrunk))
	return t
}
