-- options.lua: the same WebSocket options in both spellings, on one port.
-- /fields sets them as class fields; /table in the deprecated Class.options
-- table; /sub inherits /table's options and sets a field of the same name,
-- which the inherited table's entry overrides; /other has a table of its
-- own, so it warns once more.
local Httpd = require "httpd"
local WebSocket = require "websocket"

local function echo(self, data, kind) self:send(data, kind) end
local origins = { "http://good.example" }

local Fields = WebSocket:extend({ max_message = 16, origins = origins, message = echo })
local Table = WebSocket:extend({ options = { max_message = 16, origins = origins }, message = echo })
local Sub = Table:extend({ max_message = 1024 })
local Other = WebSocket:extend({ options = { max_message = 16 }, origins = origins, message = echo })

return Httpd:extend({
  routes = { ["GET /fields"] = Fields, ["GET /table"] = Table, ["GET /sub"] = Sub, ["GET /other"] = Other },
})
