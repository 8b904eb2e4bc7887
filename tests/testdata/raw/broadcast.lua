-- broadcast.lua: broadcasts on command, except the sender (given as
-- its instance or as its conn) or to everyone, and reports the count.
local C = {}
function C:start() self.conn:send("hello\n") end
function C:data(b)
  local cmd, arg = b:match("^(%S+) (%S+)\n$")
  local n
  if cmd == "bcast" then
    n = server.broadcast(arg .. "\n", self)
  elseif cmd == "bcastconn" then
    n = server.broadcast(arg .. "\n", self.conn)
  elseif cmd == "bcastall" then
    n = server.broadcast(arg .. "\n")
  else
    self.conn:send("?\n")
    return
  end
  self.conn:send("sent " .. n .. "\n")
end
return C
