-- app.lua (a template: Lines is the type app_lines_total is defined with,
-- Version a comment that makes a reload differ): the metrics tests' application: raw traffic, a Lua error on
-- demand, a handler that sticks, and the script's own metrics.
local metrics = require "metrics"
local Httpd = require "httpd"
local lines = metrics.{{.Lines}}("app_lines_total", "Lines echoed.", {"kind"})
local sizes = metrics.histogram("app_line_bytes", "Line sizes.", {4, 16})
local users = metrics.gauge("app_users", "Raw clients connected.")
local C = {}
function C:start() users:inc() end
function C:data(d)
  if d:find("^boom") then error("boom requested") end
  if d:find("^spin") then local t = os.clock() while os.clock() - t < 60 do end end
  if d:find("^bye") then return self.conn:close(nil, "bye") end
  lines:inc({kind = "echo"})
  sizes:observe(#d)
  self.conn:send(d)
end
function C:closed() users:dec() end
local Web = Httpd:extend()
Web.routes = { ["GET /hello"] = function(req, res) return 200, "hi\n" end }
local _, _, port = server.socket_bind("127.0.0.1", 0, Web)
log.info("http listening", "port", port)
return C
-- {{.Version}}
