-- helper.lua: a module whose function assigns a global no main chunk assigns.
local M = {}
function M.bump()
  bumps = (bumps or 0) + 1
end
return M
