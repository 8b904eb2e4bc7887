-- shutdown.lua (a template: .Up and .Pending are ports): two outbound
-- connections made while the script loads, "up" to a listening backend
-- and "pending" to a port that never answers, each logging its start and
-- its end.
local B = {}
function B:start() log.info("outbound started", "tag", self.tag) end
function B:closed(code, reason) log.info("outbound closed", "tag", self.tag, "reason", reason) end
server.connect("127.0.0.1", {{.Up}}, B).tag = "up"
server.connect("127.0.0.1", {{.Pending}}, B).tag = "pending"
return {}
