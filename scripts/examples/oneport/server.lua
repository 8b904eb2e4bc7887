-- oneport: WebSocket, HTTP, FTP, SSH and SFTP on one port, with one users
-- table for FTP and SSH. docs/ONE_PORT.md shows the client commands.
--
--   cd scripts/examples/oneport && pocketlua -l 127.0.0.1:8080 server.lua
local Mux = require "mux"
local Httpd = require "httpd"
local WebSocket = require "websocket"
local Ftp = require "ftp"
local Ssh = require "ssh"

local here = debug.getinfo(1, "S").source:match("^(.*)/[^/]*$") or "."
local files = here .. "/files"

-- who may log in to FTP and SSH, and where they may go
local users = {
  alice = { password = "s3cret", root = files, write = true },
}

local Echo = WebSocket:extend()
function Echo:message(payload, kind) self:send(payload, kind) end

local Shell = Ssh.Session:extend()
function Shell:exec(command)
  self:send("hello " .. self.user .. ", you ran: " .. command .. "\n")
  self:exit(0)
end

local App = Mux:extend()
App.routes = {
  { name = "ssh",  match = Mux.ssh,  class = Ssh:extend{ users = users, session = Shell } },
  { name = "tls",  match = Mux.tls,  class = Mux.RefuseTLS },
  { name = "http", match = Mux.http, class = Httpd:extend{ root = files, routes = { ["GET /echo"] = Echo } } },
}
App.server_first = Ftp:extend{ root = files, users = users, anonymous = false }
App.wait = 0.3
return App
