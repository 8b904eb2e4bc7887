-- gatekeeper.lua: refuses new connections in accept while a connection
-- has asked it to, logging what accept(info) received.
local C = {}
local refuse = false

function C:accept(info)
  log.info("accept", "peer", info.peer, "local_addr", info.local_addr,
    "id_type", type(info.id), "refusing", tostring(refuse))
  if refuse then return false end
  return true
end

function C:start()
  log.info("start", "peer", self.conn.peer, "id", tostring(self.conn.id))
  self.conn:send("hello\n")
end

function C:data(bytes)
  if bytes == "refuse\n" then
    refuse = true
    self.conn:send("ok\n")
  elseif bytes == "admit\n" then
    refuse = false
    self.conn:send("ok\n")
  elseif bytes == "stats\n" then
    local s = server.stats()
    self.conn:send(string.format("refused=%d count=%d\n", s.refused, server.count()))
  else
    self.conn:send(bytes)
  end
end

function C:closed(code, reason)
  log.info("closed", "peer", self.conn.peer, "reason", reason)
end

return C
