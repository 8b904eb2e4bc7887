-- rooms.lua: WebSocket clients in rooms over topics. /room/NAME subscribes
-- to room.NAME and answers "joined worker=W"; /filter/NAME does the same
-- with a published handler that rewrites what it gets. Each change of the
-- broker's state is logged ("rooms: broker"). Messages are
-- commands, each answered "ok ..." or "error <message>":
--   pub TOPIC DATA       server.publish(TOPIC, DATA)
--   pubx TOPIC DATA      the same, leaving this connection out
--   pubbin TOPIC DATA    as binary
--   flood TOPIC N SIZE   N publishes of SIZE bytes
--   publoop TOPIC DATA   publish, then loop until interrupted
--   sub TOPIC / unsub TOPIC / count TOPIC / stats KEY (of server.stats())
local WebSocket = require "websocket"

server.on_broker(function(state) log.info("rooms: broker", "state", state) end)

local Rooms = WebSocket:extend()
Rooms.compress = true -- for clients that offer permessage-deflate
local Filter = Rooms:extend()

function Rooms:open(req)
  local kind, room = req.path:match("^/(%a+)/(.+)$")
  if kind == "filter" then setmetatable(self, Filter) end
  if room then self.conn:subscribe("room." .. room) end
  self.conn:send("joined worker=" .. server.stats().worker)
end

local commands = {
  pub = function(self, topic, data) server.publish(topic, data) end,
  pubx = function(self, topic, data) server.publish(topic, data, nil, self) end,
  pubbin = function(self, topic, data) server.publish(topic, data, "binary") end,
  flood = function(self, topic, args)
    local n, size = args:match("^(%d+) (%d+)$")
    local body = string.rep("x", tonumber(size))
    for i = 1, tonumber(n) do server.publish(topic, body) end
  end,
  -- publishes, then runs until --handler-timeout interrupts it
  publoop = function(self, topic, data)
    server.publish(topic, data)
    while true do end
  end,
  sub = function(self, topic) return tostring(self.conn:subscribe(topic)) end,
  unsub = function(self, topic) return tostring(self.conn:unsubscribe(topic)) end,
  count = function(self, topic) return tostring(server.subscribers(topic)) end,
  -- answered later: "presence N NODES"
  presence = function(self, topic)
    server.presence(topic, function(n, nodes)
      self.conn:send("presence " .. n .. " " .. #nodes)
    end)
  end,
  stats = function(self, key) return tostring(server.stats()[key]) end,
}

function Rooms:message(data)
  local cmd, topic, rest = data:match("^(%a+) (%S*) ?(.*)$")
  local fn = commands[cmd]
  if not fn then
    self.conn:send("error unknown command " .. data)
    return
  end
  local ok, res = pcall(fn, self, topic, rest)
  if ok then
    self.conn:send("ok " .. cmd .. " " .. (res or ""))
  else
    self.conn:send("error " .. tostring(res))
  end
end

function Rooms:closed(code, reason)
  log.info("rooms closed", "reason", reason)
end

function Filter:published(topic, data, kind)
  self.conn:send("filtered " .. topic .. " " .. kind .. " " .. data:upper())
end

return Rooms
