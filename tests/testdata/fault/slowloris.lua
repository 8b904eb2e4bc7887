-- slowloris.lua: fault.lua with a 2 s handshake timeout.
local Fault = require "fault"
Fault.handshake_timeout = 2
return Fault
