-- fanout.lua: the pocketlua side of `pocketbench fanout`.
-- ws://HOST/sub/TOPIC subscribes to TOPIC; ws://HOST/pub/TOPIC publishes
-- every message it sends to TOPIC (and subscribes to nothing).
local WebSocket = require "websocket"

local Fanout = WebSocket:extend()

function Fanout:open(req)
  local role, topic = req.path:match("/(%a+)/([^/]+)$")
  if role == "sub" then
    self.conn:subscribe(topic)
  elseif role == "pub" then
    self.topic = topic
  else
    self.conn:close(1008, "expected /sub/TOPIC or /pub/TOPIC")
  end
end

function Fanout:message(data, kind)
  if self.topic then
    server.publish(self.topic, data, kind)
  end
end

return Fanout
