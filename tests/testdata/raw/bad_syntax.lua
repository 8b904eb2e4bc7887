local C = {}
function C:data(b)
  local x = = 1 -- the syntax error: the CLI tests want it reported at bad_syntax.lua:3
end
return C
