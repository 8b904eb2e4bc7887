-- probe.lua: echo.lua with a log line when its queue passes 256 KiB (the
-- tests' --high-water) and one on each drain.
local Echo = require "echo"
local Probe = Echo:extend()
function Probe:message(data, kind)
  Echo.message(self, data, kind)
  if self.conn:buffered() > 262144 then log.info("probe: over high water") end
end
function Probe:drain()
  log.info("probe: drain")
  return Echo.drain(self)
end
return Probe
