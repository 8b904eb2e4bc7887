-- greeter.lua: greets, echoes, and logs each close with its reason.
local C = {}
function C:start() self.conn:send("hello\n") end
function C:data(b) self.conn:send(b) end
function C:closed(code, reason)
  log.info("conn closed", "peer", self.conn.peer, "reason", reason)
end
return C
