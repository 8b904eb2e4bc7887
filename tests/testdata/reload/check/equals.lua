local WebSocket = require "websocket"
local broken = = 1
return WebSocket:extend()
-- equals.lua: a syntax error on line 2.
