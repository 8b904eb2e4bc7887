-- storm.lua: fault.lua that moves its connections over on every reload.
local Fault = require "fault"
function Fault:reloaded(old) end
return Fault
