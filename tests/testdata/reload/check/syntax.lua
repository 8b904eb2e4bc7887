local WebSocket = require "websocket"
local C = WebSocket:extend()

function C:message(data)
  self:send(data
end
return C
-- syntax.lua: the call left open on line 5 is detected at "end" on line 6.
