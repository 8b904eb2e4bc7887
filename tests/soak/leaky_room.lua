-- leaky_room.lua: the soak script with room membership kept in a set table
-- (members[self] = true ... = nil). With gopher-lua 1.1.2 the set keeps every
-- instance it ever held (docs/RELIABILITY.md, bug 5): run
--   go run ./tests/soak -d 3m -script tests/soak/leaky_room.lua
-- and the live heap grows about 0.1 MiB per reload, where the built-in script
-- stays flat.
local WebSocket = require "websocket"

local st = server.state("soak", { members = {}, n = 0 })

if not st.stats_port then
  local Stats = {}
  function Stats:start()
    local s, parts = server.stats(), {}
    for k, v in pairs(s) do parts[#parts + 1] = k .. "=" .. tostring(v) end
    table.sort(parts)
    self.conn:send(table.concat(parts, " ") .. "\n")
    self.conn:close()
  end
  local _, _, port = server.socket_bind("127.0.0.1", 0, Stats)
  st.stats_port = port
  log.info("soak stats", "port", port)
end

if not st.ticker then
  local payload = ("b"):rep(1024)
  st.ticker = server.every(0.1, function()
    st.n = st.n + 1
    for m in pairs(st.members) do m:send(payload, "binary") end
  end)
end

local Soak = WebSocket:extend()

function Soak:open(req)
  if req.path == "/room" then
    self.room = true
    st.members[self] = true
  end
end

function Soak:message(data, kind)
  if self.room then
    -- some Lua garbage per message: a coroutine left suspended, a gsub
    local co = coroutine.create(function(x) coroutine.yield(x) end)
    coroutine.resume(co, data)
    self:send("ack:" .. (data:gsub("%d", "#")))
    return
  end
  if not self.conn:send(data, kind) then self.conn:pause() end
end

function Soak:drain() self.conn:resume() end

function Soak:closed()
  st.members[self] = nil
end

function Soak:reloaded(old) end

return Soak
