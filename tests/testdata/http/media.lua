-- media.lua: site.lua with the access log on, so the browser test can see
-- which statuses the audio element's requests got.
local Site = require "site"
Site.access_log = true
return Site
