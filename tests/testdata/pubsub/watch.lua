-- watch.lua: a raw echo that, in its first version, logs each change of
-- the broker's state ("watch"); the reloaded version does not ask.
{{if .Watch}}server.on_broker(function(state) log.info("watch", "state", state) end){{end}}
local Echo = {}
Echo.__index = Echo
function Echo:data(bytes) self.conn:send(bytes) end
return Echo
