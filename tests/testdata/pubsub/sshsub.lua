-- sshsub.lua (a template: AuthorizedKeys a string): ssh.lua whose
-- connections subscribe to "ssh" in accept(info). Exec commands: "pub"
-- publishes a line to "ssh"; "stats" answers "dropped=D delivered=E".
local Ssh = require "ssh"

local Shell = Ssh.Session:extend()
function Shell:exec(command)
  if command == "pub" then
    server.publish("ssh", "not for the SSH stream\n")
    self:send("published\n")
  elseif command == "stats" then
    local s = server.stats()
    self:send(("dropped=%d delivered=%d\n"):format(s.pubsub_dropped, s.delivered))
  end
  self:exit(0)
end

local App = Ssh:extend{
  session = Shell,
  users = { alice = { authorized_keys = {{lua .AuthorizedKeys}} } },
}

function App:accept(info)
  self.conn:subscribe("ssh")
end

return App
