-- faulty.lua: echoes, and fails on command: in start (once armed by
-- another connection), in data, in closed, in a conn:after timer, or spins
-- for ever in data.
local C = {}
local armed = {}

function C:start()
  if armed.start then
    armed.start = false
    error("boom in start") -- FAIL:start
  end
  self.conn:send("hello\n")
end

function C:data(bytes)
  if bytes == "arm start\n" then
    armed.start = true
    self.conn:send("armed\n")
  elseif bytes == "fail data\n" then
    error("boom in data") -- FAIL:data
  elseif bytes == "fail closed\n" then
    self.fail_closed = true
    self.conn:close()
  elseif bytes == "fail closed later\n" then
    self.fail_closed = true
    self.conn:send("armed\n")
  elseif bytes == "fail timer\n" then
    self.conn:after(0.05, function()
      error("boom in timer") -- FAIL:timer
    end)
    self.conn:send("scheduled\n")
  elseif bytes == "spin\n" then
    log.info("spinning", "peer", self.conn.peer)
    while true do end
  else
    self.conn:send(bytes)
  end
end

function C:closed(code, reason)
  log.info("closed", "peer", self.conn.peer, "reason", reason)
  if self.fail_closed then
    error("boom in closed") -- FAIL:closed
  end
end

return C
