-- fault.lua: the base of the fault scripts, and a script of its own: the
-- echo battery, plus "stats" answered with server.stats() as "key=value
-- ...", "hold MS" (answered "holding"; 50 ms later the loop runs Lua for
-- MS milliseconds, so what clients send meanwhile waits in the kernel)
-- and a log line for every end of a connection. The other scripts
-- here start with require "fault" and change the class.
local Echo = require "echo"
local Fault = Echo:extend()

function Fault:open(req) self.path = req.path end

function Fault:message(data, kind)
  if data == "stats" then
    local s, parts = server.stats(), {}
    for k, v in pairs(s) do parts[#parts + 1] = k .. "=" .. tostring(v) end
    return self:send(table.concat(parts, " "))
  end
  local ms = data:match("^hold (%d+)$")
  if ms then
    server.after(0.05, function()
      local stop = os.clock() + tonumber(ms) / 1000
      while os.clock() < stop do end
    end)
    return self:send("holding")
  end
  return Echo.message(self, data, kind)
end

function Fault:closed(code, reason)
  log.info("fault closed", "path", self.path, "code", code, "reason", reason)
end

return Fault
