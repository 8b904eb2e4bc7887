-- good.lua: a script that loads and serves (an echo).
local C = {}
function C:data(b) self.conn:send(b) end
return C
