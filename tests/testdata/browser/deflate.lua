-- deflate.lua (a template: .Options are more class fields, .Page the
-- page's path): serves deflate.html to a plain GET and runs a compressing
-- echo, with a "stats" command answering the server's byte counters, on
-- WebSocket upgrades. The page's runTest() opens a WebSocket back to the
-- page's host, sends JSON chat messages and text and binary messages of
-- many sizes, checks every echo, asks for the counters, closes with 1000,
-- and resolves to a summary, which it also writes into the page for the
-- screenshot.
local WebSocket = require "websocket"
local http = require "http"

local f = assert(io.open("{{.Page}}", "rb"))
local PAGE = f:read("*a")
f:close()

local Echo = WebSocket:extend({ compress = true, {{.Options}} })

function Echo:data(bytes)
  if self._ws then return WebSocket.data(self, bytes) end
  self._buf = (self._buf or "") .. bytes
  local req = http.parse_request(self._buf)
  if not req then return end -- incomplete; a malformed head is the handshake's to refuse
  local buf = self._buf
  self._buf = nil
  if not (req.headers.upgrade or ""):lower():find("websocket", 1, true) then
    self.conn:send("HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: " .. #PAGE ..
      "\r\nConnection: close\r\n\r\n" .. PAGE)
    self.conn:close()
    return
  end
  self._ws = true
  return WebSocket.data(self, buf)
end

function Echo:open(req)
  log.info("deflate open", "conn", self.conn.id, "extensions", self.extensions or "none",
    "offer", req.headers["sec-websocket-extensions"] or "none")
end

function Echo:message(data, kind)
  if data == "stats" then
    local s = server.stats()
    self.conn:send(("{\"bytes_in\":%d,\"bytes_out\":%d}"):format(s.bytes_in, s.bytes_out), "text")
    return
  end
  if not self.conn:send(data, kind) then self.conn:pause() end
end

function Echo:drain() self.conn:resume() end

function Echo:closed(code, reason)
  if self._ws then log.info("deflate closed", "conn", self.conn.id, "code", code, "reason", reason) end
end

return Echo
