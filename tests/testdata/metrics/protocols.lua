-- protocols.lua (a template: Root is the FTP folder): the metrics tests'
-- WebSocket and FTP traffic and the causes a scrape counts. The main port
-- is a WebSocket echo; each other listener logs "<name> listening port=N":
-- idle, a WebSocket closed after 0.3 s of silence; ftp, alice's read-only
-- FTP; sink, raw, which answers a line "N" with N bytes and then waits,
-- and allocates without end on a line "hog".
local WebSocket = require "websocket"
local Ftp = require "ftp"

local Echo = WebSocket:extend()
function Echo:message(m, kind) self:send(m, kind) end

local Idle = WebSocket:extend{ idle_timeout = 0.3 }

local Site = Ftp:extend{ root = {{lua .Root}}, users = { alice = { password = "s3cret" } } }

local Sink = {}
function Sink:data(line)
  if line == "hog\n" then
    local t = {}
    while true do t[#t + 1] = string.rep("h", 1048576) end
  end
  local n = tonumber(line:match("^(%d+)\n$"))
  if n then self.conn:send(string.rep("s", n)) end
end

for name, class in pairs{ idle = Idle, ftp = Site, sink = Sink } do
  local _, _, port = server.socket_bind("127.0.0.1", 0, class)
  log.info(name .. " listening", "port", port)
end
return Echo
