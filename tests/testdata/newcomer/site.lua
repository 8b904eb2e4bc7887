-- site.lua (a template: true or false, the access log): an httpd site
-- whose routes return what a newcomer might: a bare string, a table, and
-- things that cannot be sent; a WebSocket echo and a class that
-- authorizes by query.
local Httpd = require "httpd"
local WebSocket = require "websocket"
local Guarded = WebSocket:extend()
function Guarded:authorize(req) return req.query == "key=right" end
return Httpd:extend{
  access_log = {{.}},
  max_body = 16,
  routes = {
    ["GET /ok"] = function() return "ok" end,
    ["GET /table"] = function() return 200, { a = 1, list = { 1, 2 } } end,
    ["GET /typed"] = function() return 201, { a = 1 }, { ["Content-Type"] = "application/vnd.x+json" } end,
    ["GET /cycle"] = function() local t = {} t.t = t return 200, t end,
    ["GET /fn"] = function() return 200, print end,
    ["GET /badstatus"] = function() return "ok", "body" end,
    ["GET /bigstatus"] = function() return 1000 end,
    ["GET /sent-table"] = function(req, res) res:send(200, { sent = true }) end,
    ["GET /secret"] = function() return 401, "who are you?" end,
    ["GET /ws"] = require "echo",
    ["GET /guarded"] = Guarded,
  },
}
