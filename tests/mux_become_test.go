package tests

import (
	"testing"
	"time"
)

// becomeScript switches class on its first line: "upper" and "bare" become
// another class at once (with the rest of the input replayed), "later"
// does it from a timer.
const becomeScript = `
local FatClient = require "fatclient"

local Upper = FatClient:extend()
function Upper:start() self.conn:send("upper start, kept " .. tostring(self.kept) .. "\n") end
function Upper:data(bytes) self.conn:send(bytes:upper()) end
function Upper:closed(code, reason) log.info("upper closed", "reason", reason) end

local Bare = {}   -- a plain table: become gives it an __index
function Bare:start() self.conn:send("bare start\n") end
function Bare:data(bytes) self.conn:send("bare:" .. bytes) end

local First = FatClient:extend()
function First:start() self.buf, self.kept = "", "yes" end
function First:data(bytes)
  self.buf = self.buf .. bytes
  local nl = self.buf:find("\n", 1, true)
  if not nl then return end
  local cmd, rest = self.buf:sub(1, nl - 1), self.buf:sub(nl + 1)
  self.buf = nil
  if cmd == "upper" then
    assert(self:become(Upper, rest) == self)
  elseif cmd == "bare" then
    self:become(Bare, rest)
  elseif cmd == "later" then
    self:after(0.05, function(self) self:become(Upper, rest) end)
  end
end
function First:closed(code, reason) log.info("first closed", "reason", reason) end
return First
`

// TestBecome: self:become(Class, bytes) keeps the connection and the
// instance's fields, runs the new class's start, replays the bytes through
// its data, and from then on the engine dispatches every event (data,
// closed) to the new class; also from a timer, and for a plain class table.
func TestBecome(t *testing.T) {
	eachPoller(t, func(t *testing.T, poller string) {
		srv := startServer(t, poller, writeScript(t, "become.lua", becomeScript))

		c := dialRaw(t, srv.Addr)
		c.send("upper\nreplayed ")
		c.expect("upper start, kept yes")
		c.send("then live\n")
		c.expect("REPLAYED THEN LIVE")
		c.Close()
		rawWaitLogs(t, srv, 5*time.Second, 1, "upper closed", `reason="peer closed"`)

		b := dialRaw(t, srv.Addr)
		b.send("bare\nx\n")
		b.expect("bare start")
		b.expect("bare:x")
		b.roundTrip("y", "bare:y")

		l := dialRaw(t, srv.Addr)
		l.send("later\nfrom a timer\n")
		l.expect("upper start, kept yes")
		l.expect("FROM A TIMER")
		l.roundTrip("ok", "OK")
		l.Close()
		rawWaitLogs(t, srv, 5*time.Second, 2, "upper closed")
		if lines := rawLogLines(srv, "first closed"); len(lines) > 0 {
			t.Fatalf("closed went to the old class: %s", lines[0])
		}
		srv.stop()
	})
}
