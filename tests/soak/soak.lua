-- soak.lua: echo, a broadcast room and a stats port, reload-safe.
--
-- Room membership is a field on the instance, and the broadcast walks
-- server.connections(). A set table (members[self] = true ... = nil) would
-- grow for ever: gopher-lua 1.1.2 never forgets a deleted hash key, so the
-- set keeps every instance it ever held (docs/RELIABILITY.md; see
-- leaky_room.lua).
local st = server.state("soak", { n = 0 })

return require("soak_room")(st, function(fn)
  for _, m in ipairs(server.connections()) do
    if m.room then fn(m) end
  end
end)
