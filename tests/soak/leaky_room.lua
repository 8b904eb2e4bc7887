-- leaky_room.lua: the soak script with room membership kept in a set table
-- (members[self] = true ... = nil). With gopher-lua 1.1.2 the set keeps every
-- instance it ever held (docs/RELIABILITY.md, bug 5): run
--   go run ./tests/soak -d 3m -script tests/soak/leaky_room.lua
-- and the live heap grows about 0.1 MiB per reload, where soak.lua stays
-- flat.
local st = server.state("soak", { members = {}, n = 0 })

local Soak = require("soak_room")(st, function(fn)
  for m in pairs(st.members) do fn(m) end
end)

local open = Soak.open
function Soak:open(req)
  open(self, req)
  if self.room then st.members[self] = true end
end

function Soak:closed()
  st.members[self] = nil
end

return Soak
