-- mux_main.lua (a template: its value is the FTP root): sshapp.lua behind
-- mux.lua beside HTTP (a /stats route), WebSocket (/echo) and FTP (server
-- first), the FTP users being the SSH users' table.
local Mux = require "mux"
local Httpd = require "httpd"
local Ftp = require "ftp"
local WebSocket = require "websocket"
local json = require "json"
local SshApp = require "sshapp"

local Echo = WebSocket:extend()
function Echo:message(payload, kind) self.conn:send(payload, kind) end

local Site = Httpd:extend{ routes = {
  ["GET /echo"] = Echo,
  ["GET /stats"] = function(req, res)
    return 200, json.encode(server.stats()), { ["Content-Type"] = "application/json" }
  end,
} }

local App = Mux:extend()
App.routes = {
  { name = "ssh",  match = Mux.ssh,  class = SshApp },
  { name = "http", match = Mux.http, class = Site },
}
App.server_first = Ftp:extend{ root = {{lua .}}, users = SshApp.users }
App.wait = 0.3
return App
