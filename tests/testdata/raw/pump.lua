-- pump.lua: sends TOTAL bytes of a 16-byte pattern in 64 KiB chunks for
-- as long as send returns true, stops when it returns false, and goes on
-- from drain; it logs every false, every drain and the end.
local C = {}
local chunk = string.rep("0123456789abcdef", 4096) -- 64 KiB
local TOTAL = 16 * 1024 * 1024

function C:pump()
  while self.sent < TOTAL do
    self.sent = self.sent + #chunk
    if not self.conn:send(chunk) then
      self.falses = self.falses + 1
      log.info("send returned false", "sent", string.format("%d", self.sent),
        "buffered", string.format("%d", self.conn:buffered()), "n", tostring(self.falses))
      return
    end
  end
  self.conn:send("END\n")
  log.info("all sent", "sent", string.format("%d", self.sent))
end

function C:start()
  self.sent, self.falses, self.drains = 0, 0, 0
  self:pump()
end

function C:drain()
  self.drains = self.drains + 1
  log.info("drain fired", "n", tostring(self.drains), "buffered", string.format("%d", self.conn:buffered()))
  self:pump()
end

return C
