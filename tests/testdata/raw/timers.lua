-- timers.lua: drives conn:after, server.after and server.every from
-- line commands.
local C = {}
local ticker, ticks = nil, 0
local selfticks = 0

server.after(0.1, function() log.info("server after fired") end)

function C:data(b)
  local cmd = b:match("^(%S+)\n$")
  if cmd == "after" then
    self.conn:after(0.1, function() self.conn:send("after fired\n") end)
    self.conn:send("scheduled\n")
  elseif cmd == "every" then
    ticks = 0
    ticker = server.every(0.02, function() ticks = ticks + 1 end)
    self.conn:send("started " .. tostring(ticker:pending()) .. "\n")
  elseif cmd == "ticks" then
    self.conn:send(ticks .. "\n")
  elseif cmd == "cancel" then
    local was = ticker:cancel()
    local again = ticker:cancel()
    self.conn:send(string.format("cancelled %d %s %s %s\n", ticks,
      tostring(was), tostring(again), tostring(ticker:pending())))
  elseif cmd == "selfcancel" then
    selfticks = 0
    local t
    t = server.every(0.02, function()
      selfticks = selfticks + 1
      if selfticks == 3 then log.info("self cancel", "ret", tostring(t:cancel())) end
    end)
    self.conn:send("started\n")
  elseif cmd == "selfticks" then
    self.conn:send(selfticks .. "\n")
  elseif cmd == "ghost" then
    self.conn:after(0.1, function()
      log.info("ghost timer fired")
      self.conn:send("boo\n")
    end)
    self.conn:send("armed\n")
  elseif cmd == "ghostclose" then
    self.conn:after(0.1, function() log.info("ghost timer fired") end)
    self.conn:close()
  else
    self.conn:send("?\n")
  end
end

return C
