local WebSocket = require "websocket"
local C = WebSocket:extend()
return "C"
-- notable.lua: returns a string, not its class.
