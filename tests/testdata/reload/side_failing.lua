-- side_failing.lua: starts a timer and opens a listener, then throws at load.
local FatClient = require "fatclient"
local leak = server.state("leak", {port = 0, ticks = 0})
local X = FatClient:extend()
function X:data(b) self.conn:send("served by the version that failed to load\n") end
local _, _, port = server.listen{host = "127.0.0.1", port = 0, class = X}
leak.port = port
server.every(0.01, function() leak.ticks = leak.ticks + 1 end)
error("boom after side effects")
