-- app.lua: scripts/mux.lua with small inline classes: an HTTP-ish
-- class, a WebSocket echo reached through become with the replayed
-- handshake, a prefix-routed echo, TLS refused, and a server-first greeter
-- for silent clients. A template: App.wait is the test's.
local Mux = require "mux"
local FatClient = require "fatclient"
local WebSocket = require "websocket"

local Http = FatClient:extend()
function Http:start() self.buf = "" end
function Http:data(bytes)
  self.buf = self.buf .. bytes
  local line = self.buf:match("^([^\r\n]*)\r\n")
  if line and self.buf:find("\r\n\r\n", 1, true) then
    local body = "http saw " .. line .. " via " .. tostring(self.mux_route)
    self.conn:send("HTTP/1.1 200 OK\r\nContent-Length: " .. #body .. "\r\nConnection: close\r\n\r\n" .. body)
    self.conn:close()
  end
end

local Echo = FatClient:extend()
function Echo:data(bytes) self.conn:send(bytes) end

local Greeter = FatClient:extend()
function Greeter:start() self.conn:send("220 hello, silent client\r\n") end
function Greeter:data(bytes) self.conn:send("got " .. bytes) end

local WSEcho = WebSocket:extend()
function WSEcho:open(req) self:send("open " .. req.path .. " via " .. self.mux_route) end
function WSEcho:message(payload, kind) self:send("ws:" .. payload, kind) end

local App = Mux:extend()
App.wait = {{.}}
App.timeout = 1
App.max_head = 1024
App.routes = {
  { name = "tls",  match = Mux.tls,       class = Mux.RefuseTLS },
  { name = "ws",   match = Mux.websocket, class = WSEcho },
  { name = "http", match = Mux.http,      class = Http },
  { name = "echo", match = "ECHO ",       class = Echo },
}
App.server_first = Greeter
function App:closed(code, reason) log.info("mux closed", "reason", reason) end
return App
