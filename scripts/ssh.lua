-- ssh: an SSH server class on golang.org/x/crypto/ssh. The connection
-- instance decides who logs in; each session channel (a shell, an exec,
-- sftp) is an instance of the session class, with its own handlers.
--
--   local Ssh = require "ssh"
--   local Shell = Ssh.Session:extend()
--   function Shell:exec(command) self:send("you said " .. command .. "\n"); self:exit(0) end
--   return Ssh:extend{ session = Shell, root = "/srv/files",
--     users = { alice = { password = "s3cret", write = true } } }
--
-- Options are class fields (see below). Authentication: auth_password(user,
-- password) and auth_publickey(user, key) return true to let the client in;
-- the defaults check users[user].password and users[user].authorized_keys.
-- The `users` table has the shape of ftp.lua's, so one table serves both.
--
-- Under the class the engine calls ssh_auth, ssh_authenticated, ssh_open,
-- ssh_request, ssh_data, ssh_eof, ssh_drain and ssh_closed; this battery
-- turns them into the session's events. A subclass that overrides start,
-- data or reloaded calls Ssh.start(self) (and so on) in it.
local FatClient = require "fatclient"

local Ssh = FatClient:extend()

Ssh.host_keys = nil            -- private host key files; nil: the generated ed25519 key (LUA_API.md)
Ssh.users = {}                 -- name -> { password = "...", authorized_keys = "file", root = "folder", write = true|false }
Ssh.root = nil                 -- SFTP folder for users without their own root (nil: no SFTP for them)
Ssh.sftp = true                -- serve the sftp subsystem (scp and sftp clients)
Ssh.max_auth_tries = 6         -- failed attempts before disconnect, as sshd's MaxAuthTries
Ssh.auth_failure_delay = 0.5   -- seconds before a failed attempt is answered
Ssh.max_sessions = 10          -- open channels per connection, as sshd's MaxSessions
Ssh.refuse_legacy_scp = true   -- refuse `scp -O` (the old rcp protocol runs as exec "scp -t/-f ...")
Ssh.log_logins = false         -- log.info each login

---------------------------------------------------------------------------
-- the session class: one instance per channel, with fields channel, server
-- (the connection instance), user, and term, cols, rows after a pty request.

local Session = FatClient:extend()
Ssh.Session = Session
Ssh.session = Session          -- the class a new session channel gets

-- Events, all optional: start(), pty(term, cols, rows), shell(),
-- exec(command), subsystem(name), window_change(cols, rows), data(bytes),
-- eof(), drain(), closed(). pty, shell, exec and subsystem return false to
-- refuse; a class without shell (or exec) refuses it.

function Session:send(bytes) return self.channel:send(bytes) end
function Session:send_stderr(bytes) return self.channel:send_stderr(bytes) end
function Session:buffered() return self.channel:buffered() end
-- exit(status) sends the status after the queued output, then closes.
function Session:exit(status) self.channel:exit(status or 0) end
function Session:close() self.channel:close() end
function Session:is_open() return not self._closed end

-- after(seconds, fn) calls fn(self) later, unless the session has closed.
function Session:after(seconds, fn)
  return self.server.conn:after(seconds, function()
    if not self._closed then fn(self) end
  end)
end

---------------------------------------------------------------------------
-- the connection

-- start upgrades at once; behind a mux (self.mux_route set) the sniffed
-- bytes arrive through data first.
function Ssh:start()
  if self.mux_route then return end
  self:_ssh_upgrade("")
end

-- data only runs before the upgrade: the bytes a protocol sniffer read.
function Ssh:data(bytes) self:_ssh_upgrade(bytes) end

function Ssh:_ssh_upgrade(head)
  if self._sessions then return end
  self._sessions = {}
  self.conn:upgrade("ssh", {
    host_keys = self.host_keys,
    max_auth_tries = self.max_auth_tries,
    auth_failure_delay = self.auth_failure_delay,
    max_sessions = self.max_sessions,
  }, head)
end

-- auth_password(user, password) -> true to let the client in.
function Ssh:auth_password(user, password)
  local u = self.users and self.users[user]
  return u ~= nil and type(u.password) == "string" and u.password == password
end

-- auth_publickey(user, key) -> true to let the client in. key.type,
-- key.fingerprint ("SHA256:...", as ssh-keygen -l), key:authorized_by(file).
function Ssh:auth_publickey(user, key)
  local u = self.users and self.users[user]
  if not (u and u.authorized_keys) then return false end
  local ok, err = key:authorized_by(u.authorized_keys)
  if err then log.warn("ssh authorized_keys unreadable", "user", user, "err", err) end
  return ok == true
end

-- sftp_root(user) -> folder, writable: where the user's SFTP sessions go.
function Ssh:sftp_root(user)
  local u = self.users and self.users[user]
  local root = (u and u.root) or self.root
  return root, u ~= nil and u.write == true
end

function Ssh:ssh_auth(user, credential)
  if type(credential) == "string" then
    return self:auth_password(user, credential) == true
  end
  return self:auth_publickey(user, credential) == true
end

function Ssh:ssh_authenticated(user, method)
  self.user, self.auth_method = user, method
  if self.log_logins then
    log.info("ssh login", "user", user, "method", method, "peer", self.conn.peer)
  end
end

function Ssh:ssh_open(channel)
  local class = self.session
  if rawget(class, "__index") == nil then class.__index = class end
  local s = setmetatable({ channel = channel, server = self, user = self.user }, class)
  self._sessions[s] = true
  if s.start then s:start() end
  return s
end

function Ssh:ssh_request(s, req)
  local t = req.type
  if t == "pty-req" then
    s.term, s.cols, s.rows = req.term, req.cols, req.rows
    if s.pty then return s:pty(req.term, req.cols, req.rows) ~= false end
    return true
  elseif t == "window-change" then
    s.cols, s.rows = req.cols, req.rows
    if s.window_change then s:window_change(req.cols, req.rows) end
    return true
  elseif t == "shell" then
    return s.shell ~= nil and s:shell() ~= false
  elseif t == "exec" then
    if self.refuse_legacy_scp and req.command:match("^%s*scp%s") then
      s:send_stderr("legacy scp (scp -O) is not served; use scp without -O (SFTP)\n")
      return false
    end
    return s.exec ~= nil and s:exec(req.command) ~= false
  elseif t == "subsystem" then
    if req.name == "sftp" and self.sftp then return self:_sftp(s) end
    return s.subsystem ~= nil and s:subsystem(req.name) ~= false
  end
  return false
end

function Ssh:_sftp(s)
  local root, write = self:sftp_root(self.user)
  if not root then return false end
  local ok, err = s.channel:sftp(root, write)
  if not ok then
    log.warn("ssh sftp root unusable", "user", self.user, "root", root, "err", err)
    return false
  end
  s.sftp = true
  return true
end

function Ssh:ssh_data(s, bytes) if s.data then s:data(bytes) end end
function Ssh:ssh_eof(s) if s.eof then s:eof() end end
function Ssh:ssh_drain(s) if s.drain then s:drain() end end

function Ssh:ssh_closed(s)
  self._sessions[s] = nil
  s._closed = true
  if s.closed then s:closed() end
end

-- sessions() lists the open session instances.
function Ssh:sessions()
  local out = {}
  for s in pairs(self._sessions or {}) do out[#out + 1] = s end
  return out
end

-- reloaded moves each open session to the new session class when that
-- class defines reloaded(old_class), as the engine does for connections;
-- a session whose reloaded fails keeps its old class.
function Ssh:reloaded(old_class)
  local class = self.session
  if type(class.reloaded) ~= "function" then return end
  if rawget(class, "__index") == nil then class.__index = class end
  for s in pairs(self._sessions or {}) do
    local prev = getmetatable(s)
    if prev ~= class then
      setmetatable(s, class)
      local ok, err = pcall(s.reloaded, s, prev)
      if not ok then
        setmetatable(s, prev)
        log.error("ssh session reloaded failed", "user", s.user, "err", tostring(err))
      end
    end
  end
end

return Ssh
