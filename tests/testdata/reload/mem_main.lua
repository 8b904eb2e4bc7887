-- mem_main.lua: "reload" calls server.reload(); "v" answers
-- server.version(); "mem" runs collectgarbage("collect") then answers
-- "collectgarbage('count')|#package.loaded|server.version()|server.count()";
-- anything else gets "TAG|payload" from the ballast module.
local WebSocket = require "websocket"
local M = require "ballast"

local C = WebSocket:extend()

function C:message(data)
  if data == "reload" then
    server.reload()
    self:send("ok")
  elseif data == "v" then
    self:send(tostring(server.version()))
  elseif data == "mem" then
    collectgarbage("collect")
    local kb = collectgarbage("count")
    local loaded = 0
    for _ in pairs(package.loaded) do loaded = loaded + 1 end
    self:send(tostring(kb) .. "|" .. loaded .. "|" .. server.version() .. "|" .. server.count())
  else
    self:send(M.tag .. "|" .. data)
  end
end

return C
