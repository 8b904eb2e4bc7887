-- The pocketlua.test module's own behaviour, run by TestModule.
local t = require "pocketlua.test"
local FatClient = require "fatclient"

-- failure runs fn and returns the message of the assertion that failed in it.
local function failure(fn)
  local ok, err = pcall(fn)
  t.ok(not ok, "the assertion did not fail")
  t.ok(t.is_failure(err), "not an assertion failure: " .. tostring(err))
  return err.message
end

t.test("eq compares tables deeply and says where they differ", function()
  t.eq({ 1, { a = "x" } }, { 1, { a = "x" } })
  local msg = failure(function() t.eq({ 1, { a = "x" } }, { 1, { a = "y" } }) end)
  t.match(msg, "^.*module_test%.lua:%d+: at %[2%]%[\"a\"%]: expected \"y\", got \"x\"\n")
  t.match(failure(function() t.eq(1, 2, "the count") end), ": the count: expected 2, got 1$")
  t.match(failure(function() t.eq({ 1 }, { 1, 2 }) end), "at %[2%]: expected 2, got nil")
  t.match(failure(function() t.eq({ 1, 2 }, { 1 }) end), "at %[2%]: expected nil, got 2")
end)

t.test("eq handles cycles", function()
  local a, b = {}, {}
  a.self, b.self = a, b
  t.eq(a, b)
end)

t.test("ne, ok, match, raises", function()
  t.ne(1, 2)
  t.match(failure(function() t.ne({ 1 }, { 1 }) end), "expected anything but {1}")
  t.match(failure(function() t.ok(nil) end), "expected a true value, got nil")
  t.match(failure(function() t.match(5, "x") end), 'expected a string matching "x", got 5')
  t.eq(t.raises(function() error("boom", 0) end, "bo+m"), "boom")
  t.match(failure(function() t.raises(function() end) end), "expected an error, got none")
  t.match(failure(function() t.raises(function() error("other", 0) end, "boom") end),
    'expected an error matching "boom", got "other"')
  -- a failed assertion inside raises is not taken for the expected error
  t.match(failure(function() t.raises(function() t.eq(1, 2) end) end), "expected 2, got 1")
end)

t.test("timers fire in due order, ties in creation order, each at its time", function()
  local fired = {}
  server.after(2, function() fired[#fired + 1] = "b@" .. t.now() end)
  server.after(1, function() fired[#fired + 1] = "a@" .. t.now() end)
  server.after(2, function() fired[#fired + 1] = "c@" .. t.now() end)
  local cancelled = server.after(1.5, function() fired[#fired + 1] = "never" end)
  t.ok(cancelled:pending())
  t.eq(cancelled:cancel(), true)
  t.eq(cancelled:cancel(), false)
  t.advance(1.9)
  t.eq(fired, { "a@1" })
  t.advance(0.1)
  t.eq(fired, { "a@1", "b@2", "c@2" })
  t.eq(t.now(), 2)
end)

t.test("every repeats until cancelled; a timer made by a timer waits its turn", function()
  local n, later = 0, nil
  local tick
  tick = server.every(1, function()
    n = n + 1
    if n == 3 then tick:cancel() end
    if n == 1 then later = server.after(0, function() later = "ran@" .. t.now() end) end
  end)
  t.advance(10)
  t.eq(n, 3)
  t.eq(later, "ran@1")
end)

t.test("a connection's timers stop when it closes", function()
  local C = FatClient:extend()
  local ran = false
  function C:start() self.timer = self:after(5, function() ran = true end) end
  local c = t.connect(C)
  c:close()
  t.eq(c.instance.timer:pending(), false)
  t.advance(10)
  t.eq(ran, false)
end)

t.test("accept sees the peer and can refuse", function()
  local C = FatClient:extend()
  local seen
  function C:accept(info) seen = info return info.peer ~= "10.0.0.1:1" end
  function C:start() self.started = true end
  local ok = t.connect(C, { peer = "10.0.0.2:2" })
  t.eq(seen.peer, "10.0.0.2:2")
  t.ok(ok.instance.started)
  local no = t.connect(C, { peer = "10.0.0.1:1" })
  t.ok(no.refused)
  t.ok(no.closed)
  t.eq(no.instance.started, nil)
  t.eq(server.stats().refused, 1)
end)

t.test("closed gets nil and the reason in raw mode, the code in websocket mode", function()
  local C = FatClient:extend()
  local got = {}
  function C:closed(code, reason) got[#got + 1] = { code or "nil", reason } end
  t.connect(C):close()
  local c = t.connect(C)
  c.instance.conn:close(nil, "bye")
  t.eq(got, { { "nil", "peer closed" }, { "nil", "bye" } })
  t.eq({ c.close_code, c.close_reason }, { nil, "bye" })
end)

t.test("websocket close codes and kinds are checked as the server checks them", function()
  local Echo = require "echo"
  local c = t.connect(Echo, { kind = "websocket" })
  local conn = c.instance.conn
  t.raises(function() conn:close(1005) end, "not a close code a server may send")
  t.raises(function() conn:send("\255", "text") end, "valid UTF%-8")
  t.raises(function() conn:send("x", "jpeg") end, "kind must be")
  t.eq(conn:send("\255", "binary"), true)
  t.raises(function() conn:send("\255") end, "valid UTF%-8")
  t.eq(conn:send("plain"), true)
  t.eq(c.kinds[#c.kinds], "text", "no kind means text, as in the engine")
  conn:close(4001, "custom")
  t.eq({ c.close_code, c.close_reason, c.closed }, { 4001, "custom", true })
  t.eq(conn:send("late"), false, "nothing is sent after close")
  local raw = t.connect(FatClient:extend())
  t.raises(function() raw.instance.conn:send("x", "text") end, "needs websocket mode")
end)

t.test("server.connect waits for the test to connect or fail it", function()
  local Out = FatClient:extend()
  local events = {}
  function Out:start() events[#events + 1] = "start" self.conn:send("hello") end
  function Out:closed(code, reason) events[#events + 1] = "closed:" .. reason end
  local inst = server.connect("example.test", 7000, Out)
  local inst2 = server.connect("::1", 7001, Out)
  local d = t.dialed()
  t.eq(#d, 2)
  t.eq({ d[1].host, d[1].port, d[1].instance == inst }, { "example.test", 7000, true })
  t.eq(d[2].peer, "[::1]:7001")
  t.eq(events, {})
  t.raises(function() d[1]:data("x") end, "still connecting")
  d[1]:connect()
  t.eq(d[1].sent, { "hello" })
  d[2]:fail("connection refused")
  t.eq(events, { "start", "closed:connection refused" })
  t.raises(function() d[1]:connect() end, "not yet connected")
  t.eq(inst2.conn:is_open(), false)
end)

t.test("broadcast reaches the matching connections", function()
  local Echo = require "echo"
  local ws1 = t.connect(Echo, { kind = "websocket" })
  local ws2 = t.connect(Echo, { kind = "websocket" })
  local raw = t.connect(FatClient:extend())
  t.eq(server.broadcast("hi", ws1.instance, "text"), 1)
  t.eq(server.broadcast("bytes"), 1)
  t.eq({ ws1.sent, ws2.sent, raw.sent }, { {}, { "hi" }, { "bytes" } })
  t.eq(server.count(), 3)
  t.eq(#server.connections(), 3)
  t.raises(function() server.broadcast("\255", nil, "text") end, "valid UTF%-8")
end)

t.test("server.state, listeners, shutdown and reload are recorded", function()
  local s = server.state("x", { n = 1 })
  t.eq(server.state("x"), s)
  local C = FatClient:extend()
  local ln, host, port = server.socket_bind("127.0.0.1", 0, C)
  t.eq(t.listeners()[1], { host = host, port = port, class = C, closed = false })
  ln:close()
  t.ok(t.listeners()[1].closed)
  t.eq(t.shutdown_requested(), false)
  server.shutdown()
  server.reload()
  t.ok(t.shutdown_requested())
  t.eq(t.reloads(), 1)
end)

t.test("the library limits of the server apply", function()
  t.raises(function() return string.rep("x", 2 ^ 40) end, "max%-string")
end)

t.test("topics: subscribe, publish, except and published as the server does them", function()
  local Echo = require "echo"
  local a = t.connect(Echo, { kind = "websocket" })
  local b = t.connect(Echo, { kind = "websocket" })
  local Seen = Echo:extend()
  local got = {}
  function Seen:published(topic, data, kind) got[#got + 1] = topic .. "=" .. data .. ":" .. kind end
  local s = t.connect(Seen, { kind = "websocket" })
  t.eq(a.instance.conn:subscribe("room.1"), true)
  t.eq(a.instance.conn:subscribe("room.1"), false)
  t.eq(b.instance.conn:subscribe("room.*"), true)
  t.eq(s.instance.conn:subscribe("room.>"), true)
  t.eq(server.subscribers("room.1"), 1)
  server.publish("room.1", "hi", nil, a.instance)
  server.publish("room.2", "\255", "binary")
  t.eq(a.sent, {}, "except leaves the publisher out")
  t.eq(b.sent, { "hi", "\255" })
  t.eq(b.kinds, { "text", "binary" })
  t.eq(got, { "room.1=hi:text", "room.2=\255:binary" })
  t.raises(function() server.publish("room.*", "x") end, "publish needs a concrete topic")
  t.raises(function() a.instance.conn:subscribe("a..b") end, "empty token")
  t.raises(function() server.publish("room.1", "\255") end, "valid UTF%-8")
  t.eq(b.instance.conn:unsubscribe("room.*"), true)
  server.publish("room.3", "later")
  t.eq(#b.sent, 2)
end)
