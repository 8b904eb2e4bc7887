-- lifecycle.lua: logs each event with the connection's id, and whether
-- it came over TLS.
local Life = {}
Life.__index = Life

function Life:accept(info) log.info("event", "name", "accept", "id", info.id) end
function Life:start() log.info("event", "name", "start", "id", self.conn.id, "tls", self.conn.tls ~= nil) end
function Life:data(bytes) self.conn:send(bytes) end
function Life:closed(code, reason) log.info("event", "name", "closed", "id", self.conn.id, "reason", reason) end

return Life
