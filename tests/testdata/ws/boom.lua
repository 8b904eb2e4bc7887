-- boom.lua: a WebSocket echo whose handler raises on "boom" and never
-- returns on "spin".
local WebSocket = require "websocket"
local Boom = WebSocket:extend()
function Boom:message(data, kind)
  if data == "boom" then error("boom requested by the client") end
  if data == "spin" then while true do end end
  self:send(data, kind)
end
return Boom
