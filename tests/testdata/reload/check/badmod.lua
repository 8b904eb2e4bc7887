local M = {}
function M.f(
  return 1
end
return M
-- badmod.lua: a syntax error on line 3.
