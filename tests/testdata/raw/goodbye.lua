-- goodbye.lua: greets; on "fill <n>" it queues n bytes of a 16-byte
-- pattern and a goodbye line; closed logs its reason and what was still
-- queued in the server.
local C = {}
function C:start() self.conn:send("hello\n") end
function C:data(b)
  local n = tonumber(b:match("^fill (%d+)\n$"))
  if n then
    self.conn:send(string.rep("0123456789abcdef", math.floor(n / 16)))
    self.conn:send("goodbye\n")
    log.info("filled", "peer", self.conn.peer)
  end
end
function C:closed(code, reason)
  log.info("conn closed", "peer", self.conn.peer, "reason", reason, "code", tostring(code),
    "buffered", string.format("%d", self.conn:buffered()))
end
return C
