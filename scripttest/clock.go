package scripttest

import (
	"time"

	lua "github.com/yuin/gopher-lua"
)

// maxFirings bounds the timer callbacks one t.advance may run, so a
// repeating timer with a tiny interval cannot hang the runner.
const maxFirings = 1_000_000

// clock is a test's virtual time: timers fire only inside t.advance, in
// due order (ties in the order they were made), each seeing t.now() at its
// due time.
type clock struct {
	now    time.Duration
	seq    int64
	timers []*vtimer
}

// vtimer is a server or connection timer on the virtual clock.
type vtimer struct {
	due       time.Duration
	seq       int64
	every     time.Duration // 0: fires once
	fn        *lua.LFunction
	conn      *fakeConn // nil for server.after/every
	cancelled bool
	fired     bool
}

func (k *clock) add(d time.Duration, fn *lua.LFunction, repeat bool, c *fakeConn) *vtimer {
	k.seq++
	t := &vtimer{due: k.now + d, seq: k.seq, fn: fn, conn: c}
	if repeat {
		t.every = d
	}
	k.timers = append(k.timers, t)
	return t
}

func (t *vtimer) Cancel() bool {
	if t.cancelled || t.fired {
		return false
	}
	t.cancelled = true
	return true
}

func (t *vtimer) Pending() bool { return !t.cancelled && !t.fired }

// next removes and returns the earliest live timer due at or before until.
func (k *clock) next(until time.Duration) *vtimer {
	best := -1
	live := k.timers[:0]
	for _, t := range k.timers {
		if t.Pending() {
			live = append(live, t)
		}
	}
	k.timers = live
	for i, t := range k.timers {
		if t.due > until {
			continue
		}
		if best < 0 || t.due < k.timers[best].due || t.due == k.timers[best].due && t.seq < k.timers[best].seq {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	t := k.timers[best]
	k.timers = append(k.timers[:best], k.timers[best+1:]...)
	return t
}

// advance moves the clock forward by d, running every timer that falls due.
func (k *clock) advance(L *lua.LState, d time.Duration) {
	until := k.now + d
	for n := 0; ; n++ {
		t := k.next(until)
		if t == nil {
			break
		}
		if n == maxFirings {
			L.RaiseError("t.advance: more than %d timer callbacks in one advance (a repeating timer with a tiny interval?)", maxFirings)
		}
		k.now = t.due
		if t.every > 0 {
			k.seq++
			t.due += t.every
			t.seq = k.seq
			k.timers = append(k.timers, t)
		} else {
			t.fired = true
		}
		if t.conn != nil && t.conn.state == connEnded {
			continue
		}
		L.Push(t.fn)
		L.Call(0, 0)
	}
	k.now = until
}
