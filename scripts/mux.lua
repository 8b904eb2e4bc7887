-- mux: one port, many protocols. A Mux connection looks at the first bytes
-- the client sends and hands the connection to the class that speaks that
-- protocol with self:become(Class, bytes): same socket, new class, and the
-- bytes already read are replayed to it. When the client sends nothing
-- for Mux.wait seconds, the server_first class gets the connection: that
-- is how a protocol where the server speaks first (FTP, SMTP) shares the
-- port with protocols where the client does (HTTP, WebSocket, TLS).
--
--   local Mux = require "mux"
--   local App = Mux:extend()
--   App.routes = {                        -- tried in order; plain Lua, edit freely
--     { name = "tls",  match = Mux.tls,  class = Mux.RefuseTLS },
--     { name = "ssh",  match = Mux.ssh,  class = require "ssh" },
--     { name = "http", match = Mux.http, class = require "httpd" },
--     { name = "echo", match = "ECHO ",  class = require "tcp_echo" },
--   }
--   App.server_first = require "ftp"     -- nothing sent within App.wait seconds
--   App.wait = 0.3
--   return App
--
-- A route's match is a function(head, self) or a string prefix. The
-- function returns true (this protocol), false (not this one) or nil (too
-- few bytes to tell). Routes are tried in order and the first that does not
-- say false decides: true routes there, nil waits for more bytes. A table
-- route's class may also be a function(head, self) returning the class.
local FatClient = require "fatclient"

local Mux = FatClient:extend()

Mux.routes = {}          -- { {name =, match =, class =}, ... }
Mux.server_first = nil   -- class for a client that stays silent for `wait` seconds
Mux.wait = 0.3           -- seconds of silence before server_first is chosen
Mux.fallback = nil       -- class for input no route wants (nil: close)
Mux.max_head = 4096      -- bytes buffered while undecided; then fallback or close
Mux.timeout = 10         -- seconds to decide once connected; then fallback or close
Mux.log_routes = false   -- log.debug each decision

---------------------------------------------------------------------------
-- matchers: function(head) -> true | false | nil (need more bytes)

-- prefix_match: head starts with p (nil while head is a shorter prefix of p).
local function prefix_match(head, p)
  if #head >= #p then return head:sub(1, #p) == p end
  if p:sub(1, #head) == head then return nil end
  return false
end

-- Mux.prefix(p) makes a matcher for the literal prefix p.
function Mux.prefix(p)
  return function(head) return prefix_match(head, p) end
end

Mux.http_methods = { "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE" }

-- Mux.http: the head starts with an HTTP method and a space.
function Mux.http(head)
  local undecided = false
  for _, m in ipairs(Mux.http_methods) do
    local r = prefix_match(head, m .. " ")
    if r then return true end
    if r == nil then undecided = true end
  end
  if undecided then return nil end
  return false
end

-- Mux.websocket: an HTTP request whose head asks for "Upgrade: websocket"
-- (waits for the whole head, up to max_head). Route it to a WebSocket class
-- directly, without an HTTP server class in between.
function Mux.websocket(head)
  local http = Mux.http(head)
  if http ~= true then return http end
  local stop = head:find("\r\n\r\n", 1, true)
  if not stop then return nil end
  local lower = head:sub(1, stop + 1):lower() -- every header line with its CRLF
  return lower:find("\nupgrade:[ \t]*websocket[ \t]*\r\n") ~= nil
end

-- Mux.tls: a TLS record of type handshake (0x16), version 3.x: a ClientHello.
function Mux.tls(head)
  local a, b, c = head:byte(1, 3)
  if a == nil then return nil end
  if a ~= 0x16 then return false end
  if b == nil then return nil end
  if b ~= 0x03 then return false end
  if c == nil then return nil end
  return c <= 0x04
end

-- Mux.ssh: an SSH client's identification line, "SSH-2.0-" (or "SSH-1.99-",
-- a client that also speaks protocol 1). SSH clients send it first, so SSH
-- shares a port with the protocols above; route it to an ssh.lua class.
function Mux.ssh(head)
  local r = prefix_match(head, "SSH-2.0-")
  if r ~= false then return r end
  return prefix_match(head, "SSH-1.99-")
end

-- Mux.any: matches everything (a last route).
function Mux.any(head) return true end

-- Mux.RefuseTLS answers a ClientHello with a fatal handshake_failure alert
-- and closes: a TLS client reports a clean handshake failure.
Mux.RefuseTLS = FatClient:extend()
function Mux.RefuseTLS:start()
  self.conn:send("\21\3\1\0\2\2\40") -- alert record: level fatal(2), handshake_failure(40)
  self.conn:close(nil, "tls refused")
end

---------------------------------------------------------------------------
-- the connection

function Mux:start()
  self._mux_head = ""
  if self.server_first then
    self._mux_timer = self.conn:after(self.wait, function() self:_mux_silent() end)
  else
    self._mux_timer = self.conn:after(self.timeout, function() self:_mux_give_up("protocol detection timeout") end)
  end
end

-- route(head) decides: returns the class (and the route's name), false when
-- no route wants the bytes, nil to wait for more. Override for other rules.
function Mux:route(head)
  for i, r in ipairs(self.routes) do
    local m = r.match
    local verdict
    if type(m) == "string" then
      verdict = prefix_match(head, m)
    else
      verdict = m(head, self)
    end
    if verdict == nil then return nil end
    if verdict then
      local class = r.class
      if type(class) == "function" then class = class(head, self) end
      if type(class) ~= "table" then
        error(("mux route %s has no class"):format(r.name or i), 2)
      end
      return class, r.name or tostring(i)
    end
  end
  return false
end

function Mux:data(bytes)
  local head = self._mux_head .. bytes
  if self._mux_head == "" and self.server_first then
    -- The client spoke first: no server_first; now a deadline to decide.
    self._mux_timer:cancel()
    self._mux_timer = self.conn:after(self.timeout, function() self:_mux_give_up("protocol detection timeout") end)
  end
  local class, name = self:route(head)
  if class then return self:_mux_switch(class, head, name) end
  if class == false then return self:_mux_give_up("no protocol matched", head) end
  if #head >= self.max_head then return self:_mux_give_up("protocol not recognized", head) end
  self._mux_head = head
end

function Mux:_mux_silent()
  self:_mux_switch(self.server_first, "", "server_first")
end

function Mux:_mux_give_up(reason, head)
  if self.fallback then return self:_mux_switch(self.fallback, head or self._mux_head, "fallback") end
  if self.log_routes then log.debug("mux: closing", "conn", self.conn.id, "reason", reason) end
  self.conn:close(nil, reason)
end

function Mux:_mux_switch(class, head, name)
  if self._mux_timer then self._mux_timer:cancel() end
  self._mux_timer, self._mux_head = nil, nil
  if self.log_routes then
    log.debug("mux: routed", "conn", self.conn.id, "route", name, "bytes", #head)
  end
  self.mux_route = name  -- which route took the connection, for the new class
  return self:become(class, head)
end

return Mux
