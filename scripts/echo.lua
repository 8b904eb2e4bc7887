-- echo: a WebSocket echo server. Every message goes back with its kind.
-- Backpressure as in tcp_echo.lua: pause reading while the peer is slow.
local WebSocket = require "websocket"

local Echo = WebSocket:extend()

function Echo:message(data, kind)
  if not self.conn:send(data, kind) then self.conn:pause() end
end

function Echo:drain()
  self.conn:resume()
end

return Echo
