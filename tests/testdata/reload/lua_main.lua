-- lua_main.lua (a template: true adds a reloaded method that refuses a
-- poisoned instance): "reload" calls server.reload(); "v" answers
-- "TAG|conn.version|server.version()|stats.version|stats.reloads";
-- "ticks" answers how often each version's server.every timer fired.
local WebSocket = require "websocket"
local TAG = require "tag"

local ticks = server.state("ticks", {})
if ticks[TAG] == nil then -- every version starts its own repeating timer
  ticks[TAG] = 0
  server.every(0.01, function() ticks[TAG] = ticks[TAG] + 1 end)
end

local C = WebSocket:extend()
C.TAG = TAG

function C:message(data)
  if data == "reload" then
    server.reload()
    self:send("reloading")
  elseif data == "poison" then
    self.poison = true
    self:send("poisoned")
  elseif data == "ticks" then
    local names = {}
    for k in pairs(ticks) do names[#names + 1] = k end
    table.sort(names)
    local out = {}
    for _, k in ipairs(names) do out[#out + 1] = k .. "=" .. ticks[k] end
    self:send(table.concat(out, ","))
  else
    local st = server.stats()
    self:send(TAG .. "|" .. self.conn.version .. "|" .. server.version() .. "|" .. st.version .. "|" .. st.reloads)
  end
end
{{if .}}
function C:reloaded(old_class)
  if self.poison then error("cannot migrate a poisoned instance") end
  self.from = old_class.TAG
end
{{end}}
return C
