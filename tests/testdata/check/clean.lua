-- clean.lua: a global the main chunk assigns and a function updates: no warning.
local C = {}
count = 0
function C:data(b) count = count + 1 end
return C
