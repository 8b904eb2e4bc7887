-- flood.lua: ignores backpressure: every 5 ms a connection timer queues
-- 256 KiB more, whatever send says.
local C = {}
local chunk = string.rep("z", 64 * 1024)

function C:tick()
  for i = 1, 4 do self.conn:send(chunk) end
  self.conn:after(0.005, function() self:tick() end)
end

function C:start() self:tick() end

function C:closed(code, reason)
  log.info("closed", "peer", self.conn.peer, "reason", reason, "code", tostring(code))
end

return C
