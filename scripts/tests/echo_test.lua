-- Unit tests of echo.lua, tcp_echo.lua and websocket.lua's handshake, run by
-- `pocketlua test scripts/tests` (tests/run does it in CI).
local t = require "pocketlua.test"
local Echo = require "echo"
local TcpEcho = require "tcp_echo"
local WebSocket = require "websocket"

t.test("echo sends every message back with its kind", function()
  local c = t.connect(Echo, { kind = "websocket" })
  t.match(c.handshake, "^HTTP/1.1 101 ")
  c:message("hi")
  c:message("\0\1\2", "binary")
  t.eq(c.sent, { "hi", "\0\1\2" })
  t.eq(c.kinds, { "text", "binary" })
end)

t.test("echo pauses reading while the peer is slow", function()
  local c = t.connect(Echo, { kind = "websocket" })
  c.full = true -- sends report false, as above the high-water mark
  c:message("one")
  t.ok(c.paused, "paused after a send that reported false")
  t.raises(function() c:message("two") end, "paused reading")
  c:drain()
  t.eq(c.paused, false)
  c:message("three")
  t.eq(c.sent, { "one", "three" })
end)

t.test("invalid UTF-8 in a text message closes with 1007", function()
  local c = t.connect(Echo, { kind = "websocket" })
  c:message("\255", "text")
  t.ok(c.closed)
  t.eq(c.close_code, 1007)
  t.eq(c.sent, {})
end)

t.test("a plain HTTP request is refused by the handshake", function()
  local c = t.connect(Echo)
  c:data("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
  t.match(c:output(), "^HTTP/1.1 4%d%d ")
  t.ok(c.closed)
end)

t.test("the handshake times out after handshake_timeout", function()
  local c = t.connect(Echo)
  t.advance(9.9)
  t.eq(c.closed, false)
  t.advance(0.1)
  t.match(c:output(), "^HTTP/1.1 408 ")
  t.ok(c.closed)
end)

t.test("origins refuses other sites with 403", function()
  local Strict = WebSocket:extend()
  Strict.options = { origins = { "https://good.example" } }
  local err = t.raises(function()
    t.connect(Strict, { kind = "websocket", headers = { Origin = "https://evil.example" } })
  end, "did not accept the WebSocket handshake")
  t.match(err, "403")
  local ok = t.connect(Strict, { kind = "websocket", headers = { Origin = "https://good.example" } })
  t.eq(ok.mode, "websocket")
end)

t.test("tcp_echo echoes raw bytes and sees the peer close", function()
  local c = t.connect(TcpEcho, { peer = "10.0.0.7:4000" })
  t.eq(c.instance.conn.peer, "10.0.0.7:4000")
  c:data("abc")
  c:data("def")
  t.eq(c:output(), "abcdef")
  t.eq(c.kinds, { "raw", "raw" })
  c:close()
  t.ok(c.closed)
  t.raises(function() c:data("x") end, "closed")
end)
