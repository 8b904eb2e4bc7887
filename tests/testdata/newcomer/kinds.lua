-- kinds.lua: a WebSocket class that sends on command: "conn" text with
-- conn:send, "self" text with self:send, "binary" bytes as binary, and
-- "bad" bytes that are not UTF-8 without a kind.
local WebSocket = require "websocket"
local K = WebSocket:extend()
function K:message(m)
  if m == "conn" then self.conn:send("caf\195\169")
  elseif m == "self" then self:send("self text")
  elseif m == "binary" then self.conn:send("\255\0", "binary")
  elseif m == "bad" then self.conn:send("\255\0")
  end
end
return K
