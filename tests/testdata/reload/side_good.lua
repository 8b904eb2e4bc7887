-- side_good.lua: answers "leak" with "port|ticks" from server.state("leak").
local WebSocket = require "websocket"
local leak = server.state("leak", {port = 0, ticks = 0})
local C = WebSocket:extend()
function C:message(data)
  self:send(leak.port .. "|" .. leak.ticks)
end
return C
