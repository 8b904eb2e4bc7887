-- queues.lua: a worker held in a handler while another publishes to it.
-- /sub/NAME subscribes to room.NAME, /pub/NAME to nothing; both answer
-- "joined worker=W". Commands, each answered "ok CMD RESULT":
--   hold               hold this worker's loop until release (10 s at most)
--   holding            the worker holding, or "no"
--   release            end the hold
--   flood TOPIC N SIZE N publishes of SIZE bytes
--   pub TOPIC DATA     one publish
--   stats KEY          server.stats()[KEY]
--   presences TOPIC N  N server.presence calls at once: "REFUSED LAST-ERROR"
--   answered           the presence callbacks run so far in this worker
local WebSocket = require "websocket"
local q = server.shared("queues")

local C = WebSocket:extend()
local answered = 0

function C:open(req)
  local kind, name = req.path:match("^/(%a+)/(.+)$")
  if kind == "sub" then self.conn:subscribe("room." .. name) end
  self.conn:send("joined worker=" .. server.stats().worker)
end

local commands = {
  hold = function()
    q:set("holding", server.stats().worker)
    local deadline = os.time() + 10
    while not q:get("release") and os.time() < deadline do end
    q:delete("holding")
    q:delete("release")
  end,
  holding = function() return tostring(q:get("holding") or "no") end,
  release = function() q:set("release", true) end,
  flood = function(topic, args)
    local n, size = args:match("^(%d+) (%d+)$")
    local body = string.rep("x", tonumber(size))
    for _ = 1, tonumber(n) do server.publish(topic, body) end
  end,
  pub = function(topic, data) server.publish(topic, data) end,
  stats = function(key) return tostring(server.stats()[key]) end,
  presences = function(topic, n)
    local refused, last = 0, ""
    for _ = 1, tonumber(n) do
      local ok, err = pcall(server.presence, topic, function() answered = answered + 1 end)
      if not ok then refused, last = refused + 1, tostring(err) end
    end
    return refused .. " " .. last
  end,
  answered = function() return tostring(answered) end,
}

function C:message(data)
  local cmd, arg, rest = data:match("^(%a+) ?(%S*) ?(.*)$")
  local fn = commands[cmd or ""]
  if not fn then
    self.conn:send("error unknown command " .. data)
    return
  end
  local ok, res = pcall(fn, arg, rest)
  self.conn:send(ok and ("ok " .. cmd .. " " .. (res or "")) or ("error " .. tostring(res)))
end

return C
