-- oneport.lua (a template: .Root and .FTPRoot are folders, .Backend the
-- bridge's host:port): the one-port application: mux.lua looks at the first
-- bytes; HTTP goes to httpd.lua, which serves static files, a JSON stats
-- route, and hands WebSocket upgrades to an echo class (/echo), the
-- bridge (/bridge) and the chat (any other path); TLS is refused with an
-- alert; a client that stays silent for 0.3 s gets ftp.lua.
local Mux = require "mux"
local Httpd = require "httpd"
local Ftp = require "ftp"
local WebSocket = require "websocket"
local Chat = require "chat"      -- scripts/examples/chat
local Bridge = require "bridge"  -- scripts/examples
local json = require "json"

local Echo = WebSocket:extend()
function Echo:message(payload, kind)
  if not self.conn:send(payload, kind) then self.conn:pause() end
end
function Echo:drain() self.conn:resume() end

local Site = Httpd:extend{
  root = {{lua .Root}},
  routes = {
    ["GET /echo"] = Echo,
    ["GET /bridge"] = Bridge:extend({ backend = "{{.Backend}}" }),
    ["GET /stats"] = function(req, res)
      return 200, json.encode(server.stats()), { ["Content-Type"] = "application/json" }
    end,
  },
  websocket = Chat,
}

local Files = Ftp:extend{
  root = {{lua .FTPRoot}},
  users = { alice = { password = "s3cret", write = true } },
}

local App = Mux:extend()
App.routes = {
  { name = "tls",  match = Mux.tls,  class = Mux.RefuseTLS },
  { name = "http", match = Mux.http, class = Site },
}
App.server_first = Files
App.wait = 0.3
return App
