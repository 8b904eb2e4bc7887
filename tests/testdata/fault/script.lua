-- script.lua: fails in whatever event its connection asks for: WebSocket
-- connections name it in their path (/fail/<event>) or send a message
-- that misbehaves; raw listeners opened with socket_bind fail in accept,
-- start or data.
local Echo = require "echo"
local Fault = require "fault"
local base_message, base_closed = Fault.message, Fault.closed

-- Raw listeners whose classes fail in accept, start and data.
local function raw(event)
  local C = { closed = function(self, code, reason) self.path = "raw/" .. event base_closed(self, code, reason) end }
  C[event] = function(self) error("boom " .. event) end
  local _, _, port = server.socket_bind("127.0.0.1", 0, C)
  log.info("raw listener", "event", event, "port", port)
end
raw("accept") raw("start") raw("data")

function Fault:open(req)
  self.path = req.path
  self.fail = req.path:match("^/fail/(%w+)$")
  if self.fail == "timer" then self:after(0.05, function() error("boom timer") end) end
  if self.fail == "drain" then self.conn:send(("d"):rep(300000), "binary") end
end

function Fault:message(data, kind)
  if self.fail == "message" then error("boom message") end
  if data == "spin" then while true do end end
  if data == "recurse" then local function r(n) return 1 + r(n + 1) end return r(1) end
  local hog = data:match("^hog(%d*)$")
  if hog then
    local t, i, size = {}, 0, tonumber(hog) or 6e7 -- 60 MB a turn by default
    while true do i = i + 1 t[i] = ("x"):rep(size) end
  end
  if data == "rep" then return self:send(("x"):rep(1e10)) end
  if data == "format" then return self:send(string.format(("%1000000d"):rep(100), unpack((function() local a = {} for i = 1, 100 do a[i] = i end return a end)()))) end
  if data == "deep" then
    local fn, err = loadstring("return " .. ("{"):rep(2e4) .. ("}"):rep(2e4))
    if not fn then error(err) end
  end
  if data == "gsub" then
    local s, n = ("x"):rep(1e5):gsub("x", "yz")
    return self:send("gsub " .. #s .. " " .. n)
  end
  return base_message(self, data, kind) -- "stats", else the echo
end

function Fault:drain()
  if self.fail == "drain" then error("boom drain") end
  return Echo.drain(self)
end

function Fault:ping() if self.fail == "ping" then error("boom ping") end end
function Fault:pong() if self.fail == "pong" then error("boom pong") end end

function Fault:closed(code, reason)
  base_closed(self, code, reason)
  if self.fail == "closed" then error("boom closed") end
end

return Fault
