-- relative_site.lua: an httpd site whose root "www" is relative, so it is
-- found beside this script whatever the working directory.
local Httpd = require "httpd"
return Httpd:extend{ root = "www" }
