-- A WebSocket echo on lua-resty-websocket (Debian: lua-nginx-websocket):
-- every message goes back whole with its kind, as scripts/echo.lua does.
-- recv_frame returns frames, so fragmented messages are put together
-- here (gorilla sends a message larger than its 4 KiB buffer in parts).
local server = require "nginx.websocket.server"

local ws, err = server:new{ timeout = 60000, max_payload_len = 64 * 1024 * 1024 }
if not ws then
  ngx.log(ngx.ERR, "websocket: ", err)
  return ngx.exit(444)
end

local parts, kind = nil, nil
while true do
  local data, typ, err = ws:recv_frame()
  if not data then
    if not string.find(err or "", "timeout", 1, true) then
      return ws:send_close()
    end
  elseif typ == "close" then
    return ws:send_close()
  elseif typ == "ping" then
    ws:send_pong(data)
  elseif typ == "text" or typ == "binary" or typ == "continuation" then
    if typ ~= "continuation" then parts, kind = {}, typ end
    if parts then
      parts[#parts + 1] = data
      if err ~= "again" then -- the final frame
        local msg = table.concat(parts)
        parts = nil
        if kind == "text" then ws:send_text(msg) else ws:send_binary(msg) end
      end
    end
  end
end
