-- timeouts.lua: site.lua with half-second keep-alive and request timeouts.
local Site = require "site"
Site.keepalive_timeout = 0.5
Site.request_timeout = 0.5
return Site
