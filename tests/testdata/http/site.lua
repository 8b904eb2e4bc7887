-- site.lua (a template: its value is the root folder): a site with the
-- routes the HTTP tests use. The variants here (timeouts.lua, shout.lua)
-- require it and change the class.
local Httpd = require "httpd"
local Site = Httpd:extend{
  root = {{lua .}},
  max_body = 65536,
  max_uri = 2048,
  routes = {
    ["GET /api/hello"] = function(req, res)
      local q = Httpd.parse_query(req.query)
      return 200, "hello " .. (q.name or "nobody") .. "\n"
    end,
    ["POST /api/echo"] = function(req, res)
      return 200, req.body, { ["Content-Type"] = "application/octet-stream",
        ["X-Body-Length"] = #req.body }
    end,
    ["GET /api/later"] = function(req, res)
      res:defer()
      server.after(0.05, function() res:send(202, "answered later\n") end)
    end,
    ["GET /api/boom"] = function(req, res) error("boom") end,
    ["GET /api/nothing"] = function(req, res) end,
    ["GET /chat"] = require "echo",
  },
}
Site:route("GET", "/users/(%d+)", function(req, res)
  return 200, "user " .. req.params[1] .. "\n", { ["Content-Type"] = "text/plain" }
end)
Site:route("*", "/any/(.*)", function(req, res)
  return 200, req.method .. " " .. req.params[1] .. "\n"
end)
return Site
