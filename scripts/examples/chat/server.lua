-- server.lua: the chat example on one port: httpd.lua serves www/ (the page
-- and its JavaScript) and hands every "Upgrade: websocket" request to
-- chat.lua.
--
--   pocketlua -l 127.0.0.1:8080 scripts/examples/chat/server.lua
--   open http://127.0.0.1:8080/?room=lobby&name=ann
local Httpd = require "httpd"
local Chat = require "chat"

local Site = Httpd:extend({ root = "www", websocket = Chat }) -- www/ beside this file
return Site
