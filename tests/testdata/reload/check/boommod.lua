local M = {}

error("boom in module")
return M
-- boommod.lua: raises on line 3 while it loads.
