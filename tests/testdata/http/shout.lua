-- shout.lua: site.lua whose WebSocket upgrades on any path without a route
-- go to a class that answers every message in capitals.
local Site = require "site"
local Shout = require("websocket"):extend()
function Shout:message(text) self:send(text:upper()) end
Site.websocket = Shout
return Site
