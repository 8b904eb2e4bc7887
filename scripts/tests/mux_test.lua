-- Unit tests of mux.lua's protocol detection.
local t = require "pocketlua.test"
local Mux = require "mux"
local FatClient = require "fatclient"

local Line = FatClient:extend()
function Line:data(bytes) self.conn:send("line:" .. bytes) end

local Greeter = FatClient:extend()
function Greeter:start() self.conn:send("220 hello\r\n") end
function Greeter:data(bytes) self.conn:send("got:" .. bytes) end

local App = Mux:extend()
App.routes = {
  { name = "tls", match = Mux.tls, class = Mux.RefuseTLS },
  { name = "ws", match = Mux.websocket, class = require "echo" },
  { name = "line", match = "LINE ", class = Line },
}
App.server_first = Greeter
App.wait = 0.3

t.test("a prefix route gets the connection and the bytes already read", function()
  local c = t.connect(App)
  c:data("LI")
  t.eq(c.sent, {}, "undecided after two bytes")
  c:data("NE x")
  t.eq(c:output(), "line:LINE x")
  t.eq(c.instance.mux_route, "line")
end)

t.test("a WebSocket handshake goes to the WebSocket class", function()
  local c = t.connect(App, { kind = "websocket" })
  t.eq(c.instance.mux_route, "ws")
  c:message("hi")
  t.eq(c.sent, { "hi" })
end)

t.test("a TLS ClientHello gets a handshake_failure alert", function()
  local c = t.connect(App)
  c:data("\22\3\1\0\5")
  t.eq(c.sent, { "\21\3\1\0\2\2\40" })
  t.ok(c.closed)
  t.eq(c.close_reason, "tls refused")
end)

t.test("a silent client goes to server_first after wait", function()
  local c = t.connect(App)
  t.advance(0.29)
  t.eq(c.sent, {})
  t.advance(0.01)
  t.eq(c:output(), "220 hello\r\n")
  c:data("USER x")
  t.eq(c.sent[2], "got:USER x")
  t.eq(c.instance.mux_route, "server_first")
end)

t.test("bytes no route wants close the connection", function()
  local c = t.connect(App)
  c:data("SSH-2.0-x\r\n")
  t.ok(c.closed)
  t.eq(c.close_reason, "no protocol matched")
end)

t.test("a fallback class gets what no route wants", function()
  local WithFallback = App:extend({ fallback = Line })
  local c = t.connect(WithFallback)
  c:data("?")
  t.eq(c:output(), "line:?")
  t.eq(c.instance.mux_route, "fallback")
end)

t.test("a client that starts but never finishes is closed after timeout", function()
  local c = t.connect(App)
  c:data("LIN")
  t.advance(App.timeout)
  t.ok(c.closed)
  t.eq(c.close_reason, "protocol detection timeout")
end)
