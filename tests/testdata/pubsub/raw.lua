-- raw.lua: raw TCP subscribers of "raw.t"; a line "pub TEXT" publishes
-- TEXT and a newline to them.
local C = {}
function C:start() self.conn:subscribe("raw.t") end
function C:data(line)
  local text = line:match("^pub (.-)\r?\n$")
  if text then server.publish("raw.t", text .. "\n") end
end
return C
