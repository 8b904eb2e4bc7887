-- sshapp.lua (a template: HostKeys is a Lua expression, AuthorizedKeys and
-- Root strings): the ssh tests' application, a shell and exec that echo
-- what they got, alice (password or key, writable SFTP root) and bob.
local Ssh = require "ssh"
local json = require "json"

local Shell = Ssh.Session:extend()
function Shell:exec(command)
  if command == "stats" then
    self:send(json.encode(server.stats()) .. "\n")
    return self:exit(0)
  end
  local status = command:match("^exit (%d+)$")
  if status then
    self:send_stderr("exiting with " .. status .. "\n")
    return self:exit(tonumber(status))
  end
  if command == "cat" then self.cat = true; return end
  self:send("user=" .. self.user .. " exec=" .. command .. "\n")
  self:exit(0)
end
function Shell:pty(term, cols, rows) self.line = "" end
function Shell:shell()
  self.line = ""
  self:send("welcome " .. self.user .. " " .. tostring(self.term) .. " " .. tostring(self.cols) .. "x" .. tostring(self.rows) .. "\r\n$ ")
end
function Shell:window_change(cols, rows) self:send("[resized " .. cols .. "x" .. rows .. "]") end
function Shell:data(bytes)
  if self.cat then return self:send(bytes) end
  for c in bytes:gmatch(".") do
    if c == "\r" or c == "\n" then
      local line = self.line
      self.line = ""
      if line == "exit" then self:send("\r\nbye\r\n"); return self:exit(7) end
      self:send("\r\nyou typed: " .. line .. "\r\n$ ")
    else
      self.line = self.line .. c
      self:send(c)
    end
  end
end
function Shell:eof() if self.cat then self:exit(0) end end

return Ssh:extend{
  session = Shell,
  host_keys = {{.HostKeys}},
  auth_failure_delay = 0.05,
  users = {
    alice = { password = "al1ce-pw", authorized_keys = {{lua .AuthorizedKeys}}, root = {{lua .Root}}, write = true },
    bob = { password = "b0b-pw", root = {{lua .Root}} },
  },
}
