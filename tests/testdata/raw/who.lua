-- who.lua: answers each line with its worker, the script version and how
-- many lines this worker's Lua state has served.
local C = {}
local served = 0 -- a global of this worker's Lua state
function C:data(line)
  served = served + 1
  self.conn:send(string.format("worker=%d version=%d served=%d\n",
    server.stats().worker, server.version(), served))
end
return C
