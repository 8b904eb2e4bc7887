-- relative_ftpd.lua: an ftp site whose root "files" (and a user's root
-- "www") are relative, so they are found beside this script whatever the
-- working directory.
local Ftp = require "ftp"
local Site = Ftp:extend{ root = "files", users = { carol = { password = "pw", root = "www" } } }
return Site
