local WebSocket = require "websocket"
local C = WebSocket:extend()
error("boom at load")
return C
-- throw.lua: raises on line 3 while it loads.
