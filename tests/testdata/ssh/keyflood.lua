-- keyflood.lua (a template: AuthorizedKeys a string): an SSH-only
-- application that logs every public key it is offered as Lua sees it, and
-- whose `flood` exec sends 16 KiB a timer tick until send returns false,
-- then, on drain, says how many chunks went and exits 0; `stats` prints
-- server.stats() as JSON.
local Ssh = require "ssh"
local json = require "json"

local Shell = Ssh.Session:extend()
local CHUNK, MAX_CHUNKS = 16384, 2000 -- bounded: 32 MiB if send never says full

function Shell:exec(command)
  if command == "stats" then
    self:send(json.encode(server.stats()) .. "\n")
    return self:exit(0)
  elseif command ~= "flood" then
    self:send("ok\n")
    return self:exit(0)
  end
  self.sent = 0
  local function step()
    if self.sent == MAX_CHUNKS then
      self:send("never full\n")
      return self:exit(1)
    end
    self.sent = self.sent + 1
    local letter = string.char(97 + self.sent % 26)
    if self:send(string.rep(letter, CHUNK)) then
      return self:after(0.001, step)
    end
    log.info("ssh send full", "chunks", self.sent, "buffered", self:buffered())
  end
  step()
end

function Shell:drain()
  log.info("ssh drained", "chunks", self.sent, "buffered", self:buffered())
  self:send("drained after " .. self.sent .. "\n")
  self:exit(0)
end

local App = Ssh:extend{
  session = Shell,
  auth_failure_delay = 0,
  users = { alice = { authorized_keys = {{lua .AuthorizedKeys}} } },
}

function App:auth_publickey(user, key)
  log.info("ssh key", "type", key.type, "fingerprint", key.fingerprint, "string", tostring(key))
  return Ssh.auth_publickey(self, user, key)
end

return App
