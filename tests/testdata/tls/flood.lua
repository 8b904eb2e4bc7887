-- flood.lua: start() sends 4 MiB at once; send's answer and the close
-- reason go to the log.
local Flood = {}
Flood.__index = Flood

local chunk = string.rep("x", 65536)

function Flood:start()
  for i = 1, 64 do
    local ok = self.conn:send(chunk)
    if not ok and not self.refused then
      self.refused = true
      log.info("send refused", "chunk", i, "buffered", self.conn:buffered())
    end
    if not self.conn:is_open() then break end
  end
end

function Flood:closed(code, reason)
  log.info("flood closed", "reason", reason)
end

return Flood
