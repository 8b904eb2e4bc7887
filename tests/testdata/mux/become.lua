-- become.lua: switches class on its first line: "upper" and "bare" become
-- another class at once (with the rest of the input replayed), "later"
-- does it from a timer.
local FatClient = require "fatclient"

local Upper = FatClient:extend()
function Upper:start() self.conn:send("upper start, kept " .. tostring(self.kept) .. "\n") end
function Upper:data(bytes) self.conn:send(bytes:upper()) end
function Upper:closed(code, reason) log.info("upper closed", "reason", reason) end

local Bare = {}   -- a plain table: become gives it an __index
function Bare:start() self.conn:send("bare start\n") end
function Bare:data(bytes) self.conn:send("bare:" .. bytes) end

local First = FatClient:extend()
function First:start() self.buf, self.kept = "", "yes" end
function First:data(bytes)
  self.buf = self.buf .. bytes
  local nl = self.buf:find("\n", 1, true)
  if not nl then return end
  local cmd, rest = self.buf:sub(1, nl - 1), self.buf:sub(nl + 1)
  self.buf = nil
  if cmd == "upper" then
    assert(self:become(Upper, rest) == self)
  elseif cmd == "bare" then
    self:become(Bare, rest)
  elseif cmd == "later" then
    self:after(0.05, function(self) self:become(Upper, rest) end)
  end
end
function First:closed(code, reason) log.info("first closed", "reason", reason) end
return First
