-- watch_main.lua (a template: the config file's path): registers the
-- config file with server.watch, reads it once, and answers each message
-- with "<config><tag module>|payload".
server.watch({{lua .}})
local f = io.open({{lua .}}) local conf = f:read("*a") f:close()
local WebSocket = require "websocket"
local M0 = require "tag"
local W = WebSocket:extend()
function W:message(data) self:send(conf .. M0 .. "|" .. data) end
return W
