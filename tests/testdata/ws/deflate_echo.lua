-- deflate_echo.lua (a template: its value is more class fields, Lua
-- table fields such as "compress_level = 1"): a compressing echo. Besides
-- echoing, a text message "bcast:<kind>:<data>" broadcasts <data> as
-- <kind> to every WebSocket connection. open logs the negotiated extension.
local WebSocket = require "websocket"
local Echo = WebSocket:extend({ compress = true, {{.}} })

function Echo:open(req)
  log.info("deflate open", "conn", self.conn.id, "extensions", self.extensions or "none")
end

function Echo:message(data, kind)
  local bkind, bdata = data:match("^bcast:(%a+):(.*)$")
  if bkind then
    server.broadcast(bdata, nil, bkind)
    return
  end
  if not self.conn:send(data, kind) then self.conn:pause() end
end

function Echo:drain() self.conn:resume() end

return Echo
