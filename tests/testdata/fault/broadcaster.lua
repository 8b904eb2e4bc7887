-- broadcaster.lua: fault.lua plus a 64 KiB binary broadcast to every
-- WebSocket connection every 10 ms.
local Fault = require "fault"
local payload = ("z"):rep(64 * 1024)
server.every(0.01, function() server.broadcast(payload, nil, "binary") end)
return Fault
