package engine

import (
	"time"

	lua "github.com/yuin/gopher-lua"

	"pocketlua/poll"
)

// luaTimer is a Lua callback on the loop's timer heap. A connection's timers
// die with it; server timers live until cancelled.
type luaTimer struct {
	srv       *Server
	conn      *Conn // nil for server.after/every
	fn        *lua.LFunction
	every     time.Duration // 0: fires once
	t         *poll.Timer
	cancelled bool
}

func (s *Server) newTimer(c *Conn, d time.Duration, fn *lua.LFunction, repeat bool) *luaTimer {
	lt := &luaTimer{srv: s, conn: c, fn: fn}
	if c != nil && c.ended() {
		lt.cancelled = true // never fires; pending() says so
		return lt
	}
	if repeat {
		lt.every = d
	}
	lt.t = s.loop.AfterFunc(d, lt.fire)
	if c != nil {
		c.timers = append(c.timers, lt)
	}
	return lt
}

func (lt *luaTimer) fire() {
	s := lt.srv
	if lt.every > 0 {
		lt.t = s.loop.AfterFunc(lt.every, lt.fire)
	} else {
		lt.forget()
	}
	if lt.conn != nil && lt.conn.ended() {
		return
	}
	s.invoke(lt.conn, lt.fn, nil, 0, nil, nil, 0, evTimer)
}

func (lt *luaTimer) forget() {
	c := lt.conn
	if c == nil {
		return
	}
	for i, t := range c.timers {
		if t == lt {
			last := len(c.timers) - 1
			c.timers[i] = c.timers[last]
			c.timers[last] = nil
			c.timers = c.timers[:last]
			if last == 0 {
				c.timers = nil // the handshake deadline is usually the only one
			}
			return
		}
	}
}

func (lt *luaTimer) stop() {
	lt.cancelled = true
	lt.t.Stop()
}

// Cancel stops the timer; it reports whether it was still pending.
func (lt *luaTimer) Cancel() bool {
	if lt.cancelled {
		return false
	}
	pending := lt.t.Pending()
	lt.stop()
	lt.forget()
	return pending
}

func (lt *luaTimer) Pending() bool { return !lt.cancelled && lt.t.Pending() }
