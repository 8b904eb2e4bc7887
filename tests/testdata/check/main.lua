-- main.lua: a stray global (last), a deliberate one (_G.seen), one the main chunk assigns (total).
local helper = require "helper"
local C = {}
total = 0
function C:data(b)
  total = total + #b
  last = b
  _G.seen = true
  local n = 1
  n = n + 1
  helper.bump()
  self.conn:send(b)
end
return C
