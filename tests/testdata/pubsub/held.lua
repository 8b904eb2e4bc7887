-- held.lua: accept(info) subscribes every raw TCP connection to "held"
-- before start() could run, and refuses the first three. A line "count"
-- answers how many subscriptions "held" has in this worker; "pub TEXT"
-- publishes TEXT and a newline to it.
local Held = {}
Held.__index = Held

local seen = 0

function Held:accept(info)
  self.conn:subscribe("held")
  seen = seen + 1
  if seen <= 3 then return false end
end

function Held:data(line)
  if line:match("^count") then
    self.conn:send(server.subscribers("held") .. "\n")
    return
  end
  local text = line:match("^pub (.-)\r?\n$")
  if text then server.publish("held", text .. "\n") end
end

return Held
