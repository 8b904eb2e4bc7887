-- badhttp.lua: an httpd site whose root is no folder; --check must fail
-- with this file and the line of the class below.
local Httpd = require "httpd"
local Site = Httpd:extend{ root = "nosuch" }
return Site
