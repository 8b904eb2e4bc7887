-- late_watch.lua: calls server.watch from a handler, outside the main
-- chunk, which must raise.
local C = {}
function C:data(b) server.watch("x.lua") end
return C
