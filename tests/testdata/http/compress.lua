-- compress.lua: site.lua with gzip for route responses, Cache-Control by
-- folder, and routes for the compression and ETag tests.
local Site = require "site"
Site.compress = true
Site.cache_control = { ["/"] = "no-cache", ["/assets/"] = "max-age=31536000, immutable" }

local big = {}
for i = 1, 200 do big[i] = { id = i, name = "item number " .. i } end

Site.routes["GET /api/big"] = function(req, res) return 200, big end
Site.routes["GET /api/small"] = function(req, res) return 200, "tiny\n" end
Site.routes["GET /api/png"] = function(req, res)
  return 200, string.rep("\0", 4096), { ["Content-Type"] = "image/png" }
end
Site.routes["GET /api/versioned"] = function(req, res)
  if res:etag("v7") then return end
  res:header("Cache-Control", "max-age=5")
  return 200, string.rep("versioned text\n", 200)
end
return Site
