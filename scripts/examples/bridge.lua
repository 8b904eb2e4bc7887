-- bridge.lua: a WebSocket <-> TCP bridge, like websockify. Each WebSocket
-- client gets its own outbound TCP connection (server.connect, on the same
-- loop); bytes from the backend go to the browser as binary messages, and
-- every message from the browser goes to the backend as bytes.
--
--   BRIDGE_BACKEND=127.0.0.1:5900 pocketlua -l 127.0.0.1:6080 scripts/examples/bridge.lua
--
-- or, from a script of your own (with -I scripts/examples):
--
--   local Bridge = require "bridge"
--   return Bridge:extend({ backend = "127.0.0.1:5900" })
--
-- Backpressure runs both ways: when one side's send returns false, the
-- other side stops reading (conn:pause) until the slow side drains, so
-- neither queue grows past the high-water mark by more than one read.
-- Closing either side closes the other.
local WebSocket = require "websocket"
local FatClient = require "fatclient"

local Bridge = WebSocket:extend()

-- The bridge's own options, as class fields like the WebSocket ones; a
-- subclass overrides any of them.
Bridge.backend = os.getenv("BRIDGE_BACKEND") or "127.0.0.1:5900" -- host:port ([::1]:port for IPv6)
Bridge.connect_timeout = 5 -- seconds to reach the backend, then close 1011
Bridge.kind = "binary"     -- message kind for the backend's bytes

-- backend_for(req) picks the backend of one client: host, port. Override it
-- to route by path or token (req.path, req.query).
function Bridge:backend_for(req)
  local addr = self:option("backend")
  local host, port = addr:match("^%[(.+)%]:(%d+)$")
  if not host then host, port = addr:match("^(.+):(%d+)$") end
  return host, tonumber(port)
end

-- The backend side: one outbound TCP connection per WebSocket client.
local Backend = FatClient:extend()
Bridge.Backend = Backend

function Backend:data(bytes)
  local front = self.front
  if front and not front.conn:send(bytes, self.kind) then
    self.conn:pause()           -- the browser is slow: stop reading the backend
  end
end

function Backend:drain()
  if self.front then self.front.conn:resume() end   -- the backend caught up
end

function Backend:closed(code, reason)
  local front = self.front
  self.front = nil
  if front then
    front.backend = nil
    -- A backend that hung up ends the session normally; anything else
    -- (refused, timeout, reset) is a server error, 1011 (websockify does the same).
    front:close(reason == "peer closed" and 1000 or 1011, "backend " .. reason)
  end
end

function Bridge:open(req)
  local host, port = self:backend_for(req)
  local b, err = host and server.connect(host, port, Backend, {
    connect_timeout = self:option("connect_timeout"),
  })
  if not b then
    log.warn("bridge: no backend", "conn", self.conn.id, "err", err or "no backend address")
    return self:close(1011, "no backend")
  end
  -- start runs once connected; until then what we send to b is queued.
  b.front, b.kind = self, self:option("kind")
  self.backend = b
end

function Bridge:message(payload, kind)
  local b = self.backend
  if b and not b.conn:send(payload) then
    self.conn:pause()           -- the backend is slow: stop reading the browser
  end
end

function Bridge:drain()
  if self.backend then self.backend.conn:resume() end -- the browser caught up
end

function Bridge:closed(code, reason)
  local b = self.backend
  self.backend = nil
  if b then
    b.front = nil
    b.conn:close()              -- queued bytes still reach the backend, then FIN
  end
end

return Bridge
