-- redirect.lua: httpd.lua that sends plaintext requests to https.
local Httpd = require "httpd"
return Httpd:extend{
  https_redirect = true,
  hsts_max_age = 600,
  routes = { ["GET /hello"] = function(req) return 200, "hello over " .. req.scheme .. "\n" end },
}
