-- flush.lua: subscribers whose deliveries may wait --publish-flush-delay.
-- /sub/TOPIC subscribes to TOPIC and answers "joined". Commands, each
-- answered by conn:send (which never waits):
--   pub TOPIC DATA   server.publish(TOPIC, DATA), answered "ok"
--   buffered         "buffered N": this connection's queued bytes, held
--                    deliveries included, before the answer is queued
--   delivered        "delivered N": server.stats().delivered, messages
--                    this worker has written to its subscribers (held
--                    or not): deliveries are posted to the loop, so a
--                    publish is not delivered yet when "ok" comes back
--   held             "held N": server.stats().pubsub_held, subscribers
--                    this worker made wait for the delay
--   kick             closes every subscriber with 4000 "kicked"
local WebSocket = require "websocket"

local subscribers = {}

local Flush = WebSocket:extend()

function Flush:open(req)
  local topic = req.path:match("^/sub/(.+)$")
  if topic then
    self.conn:subscribe(topic)
    subscribers[self] = true
  end
  self.conn:send("joined")
end

function Flush:message(data)
  local cmd, topic, rest = data:match("^(%a+) ?(%S*) ?(.*)$")
  if cmd == "pub" then
    server.publish(topic, rest)
    self.conn:send("ok")
  elseif cmd == "buffered" then
    self.conn:send("buffered " .. self.conn:buffered())
  elseif cmd == "delivered" then
    self.conn:send("delivered " .. server.stats().delivered)
  elseif cmd == "held" then
    self.conn:send("held " .. server.stats().pubsub_held)
  elseif cmd == "kick" then
    for s in pairs(subscribers) do s.conn:close(4000, "kicked") end
    self.conn:send("ok")
  else
    self.conn:send("error unknown command " .. data)
  end
end

function Flush:closed()
  subscribers[self] = nil
end

return Flush
