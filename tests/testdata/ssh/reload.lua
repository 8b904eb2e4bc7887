-- reload.lua (a template: Version, Moved non-empty to define a reloaded
-- method, Keys the authorized_keys file): an SSH-only application whose
-- shell tags each input with its version.
local Ssh = require "ssh"
local Shell = Ssh.Session:extend()
function Shell:shell() self:send("ready\n") end
function Shell:data(bytes) self:send({{lua .Version}} .. ":" .. bytes) end
{{if .Moved}}
-- Takes open sessions over, and says so.
function Shell:reloaded(old) self:send("[moved]") end
{{end}}
return Ssh:extend{ session = Shell, auth_failure_delay = 0,
  users = { alice = { authorized_keys = {{lua .Keys}} } } }
