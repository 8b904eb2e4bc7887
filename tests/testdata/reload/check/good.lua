local WebSocket = require "websocket"
local TAG = require "goodmod"
local C = WebSocket:extend()
function C:message(data) self:send(TAG .. data) end
return C
-- good.lua: loads, with a module of its own (goodmod.lua).
