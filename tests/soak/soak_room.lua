-- soak_room.lua: what every soak script shares. require("soak_room")(st,
-- each) returns the Soak class and, on the first load, opens the stats port
-- and starts the room's broadcast every 100 ms. st is the script's
-- server.state("soak", ...) table; each(fn) calls fn(member) for every room
-- member, so the script decides how membership is kept.
local WebSocket = require "websocket"

return function(st, each)
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
      each(function(m) m:send(payload, "binary") end)
    end)
  end

  local Soak = WebSocket:extend()

  function Soak:open(req)
    if req.path == "/room" then self.room = true end
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

  function Soak:reloaded(old) end

  return Soak
end
