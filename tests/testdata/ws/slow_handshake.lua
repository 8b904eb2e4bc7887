-- slow_handshake.lua: a WebSocket echo with a 0.3 s handshake_timeout.
local WebSocket = require "websocket"
local Echo = WebSocket:extend()
Echo.handshake_timeout = 0.3
function Echo:message(data, kind) self:send(data, kind) end
return Echo
