-- hooked.lua: a WebSocket echo that a console can change live. When a
-- global `hook` exists, messages go to it instead of the echo.
local WebSocket = require "websocket"
local Hooked = WebSocket:extend()

function Hooked:open()
  self.greeted = "hello " .. self.conn.peer
  self.conn:subscribe("console.demo") -- shown by :conns
end

function Hooked:message(data, kind)
  if hook then return hook(self, data, kind) end
  self:send(data, kind)
end

return Hooked
