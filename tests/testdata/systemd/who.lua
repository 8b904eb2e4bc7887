-- who.lua: answers which worker took the connection.
local C = {}
function C:data(d)
  if d:find("^spin") then local t = os.clock() while os.clock() - t < 1.5 do end end
  self.conn:send(string.format("worker=%d version=%d\n", server.stats().worker, server.version()))
end
return C
