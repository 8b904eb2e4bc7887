-- errs.lua: handler errors a script author makes (a misspelt method, bad
-- arguments to a battery's method), each on the line its AT: mark names.
local WebSocket = require "websocket"
local E = WebSocket:extend()
function E:message(data, kind) -- AT:handler
  if data == "typo" then self.conn:sned("x") end -- AT:typo
  if data == "badarg" then self:send(nil) end -- AT:badarg
  if data == "badkind" then self:send("x", "texte") end -- AT:badkind
  self:send(data, kind)
end
return E
