-- badftp.lua: an ftp site whose user's root is no folder; --check must
-- fail with this file and the line of the class below.
local Ftp = require "ftp"

local Site = Ftp:extend{ root = "files", users = { u = { password = "p", root = "gone" } } }
return Site
