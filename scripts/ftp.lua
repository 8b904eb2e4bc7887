-- ftp: an FTP server class (RFC 959, passive mode with RFC 2428 EPSV)
-- serving a folder. Each control connection is an instance; each passive
-- data connection comes from server.socket_bind(control host, 0, Data) and
-- is an instance of a small Data class that reports to its control
-- connection.
--
--   local Ftp = require "ftp"
--   return Ftp:extend{ root = "/srv/ftp",
--     users = { alice = { password = "s3cret", write = true } } }
--
-- Options are class fields (see below). A subclass adds a command by
-- defining a method cmd_<VERB>(arg); one that defines start, data or closed
-- calls Ftp.start(self) (and so on) in it.
local FatClient = require "fatclient"
local fs = require "fs"

local Ftp = FatClient:extend()
Ftp.metrics_protocol = "ftp" -- the traffic metrics' protocol label

-- Ftp:extend{root = ...} checks the root and each user's root now, taking
-- relative ones from the main script's folder.
function Ftp:extend(fields)
  if fields and fields.root ~= nil then fields.root = FatClient.folder(fields.root, "ftp root") end
  for name, u in pairs(fields and fields.users or {}) do
    if type(u) == "table" and u.root ~= nil then u.root = FatClient.folder(u.root, "ftp root of user " .. name) end
  end
  return FatClient.extend(self, fields)
end

Ftp.root = nil                 -- folder served (required; relative: to the script's folder)
Ftp.users = {}                 -- name -> { password = "...", write = true|false, root = "folder" }
Ftp.anonymous = true           -- USER anonymous / ftp with any password, read-only
Ftp.anonymous_write = false    -- let anonymous users write too
Ftp.greeting = "pocketlua FTP server ready"
Ftp.passive_host = nil         -- IPv4 address announced by PASV (default: the control connection's)
Ftp.data_timeout = 30          -- seconds from PASV/EPSV to a data connection and its command
Ftp.idle_timeout = 300         -- seconds without a command before 421
Ftp.max_line = 4096            -- longest command line, bytes
Ftp.max_login_failures = 3     -- then 421 and close
Ftp.chunk_size = 65536         -- bytes read from a file per send
Ftp.log_transfers = false      -- log.info one line per transfer
Ftp.file_mode = tonumber("644", 8) -- permissions of uploaded files, less the umask
Ftp.require_tls = false        -- refuse USER before AUTH TLS (FTPS; needs --tls-cert)
Ftp.require_session_reuse = false -- PROT P data connections must resume a TLS session (vsftpd's require_ssl_reuse)

-- commands that work before login
local OPEN = { USER = true, PASS = true, QUIT = true, SYST = true, FEAT = true, NOOP = true,
  OPTS = true, AUTH = true, HELP = true, PBSZ = true, PROT = true }
-- commands answered while a transfer runs; the others wait for its end
local DURING = { ABOR = true, QUIT = true, NOOP = true }

local function host_of(addr)
  return addr:match("^%[(.*)%]:%d+$") or addr:match("^(.*):%d+$") or addr
end

local function inside(p, root)
  if root == "/" then return true end
  return p == root or p:sub(1, #root + 1) == root .. "/"
end

local function quote(path) return '"' .. path:gsub('"', '""') .. '"' end

-- ls_line formats one entry the way `ls -l` does, which clients parse.
local function ls_line(name, st, now)
  local kind = st.is_dir and "d" or (st.is_link and "l" or "-")
  local when
  if st.mtime > now - 180 * 86400 and st.mtime <= now + 3600 then
    when = os.date("!%H:%M", st.mtime)
  else
    when = " " .. os.date("!%Y", st.mtime)
  end
  local date = ("%s %2d %s"):format(os.date("!%b", st.mtime), tonumber(os.date("!%d", st.mtime)), when)
  return ("%s%s %4d %-8s %-8s %12d %s %s\r\n"):format(kind, st.perm, st.is_dir and 2 or 1,
    "ftp", "ftp", st.size, date, name)
end

---------------------------------------------------------------------------
-- the data connection

local Data = FatClient:extend()
Data.metrics_protocol = "ftp"
Ftp.Data = Data

-- accept takes one connection per PASV/EPSV, from the control peer's host.
function Data:accept(info)
  local ctl, slot = self.control, self.slot
  if ctl._pasv ~= slot or slot.data then return false end
  if host_of(info.peer) ~= host_of(ctl.conn.peer) then
    log.warn("ftp data connection from another host refused", "peer", info.peer, "control", ctl.conn.peer)
    return false
  end
end

function Data:start()
  -- PROT P: the data connection is TLS too; what is sent meanwhile waits
  -- for the handshake.
  local ctl = self.control
  if ctl._prot_private then self.conn:start_tls{ require_resumption = ctl.require_session_reuse } end
  self.control:_data_open(self)
end
function Data:data(bytes) self.control:_data_in(self, bytes) end
function Data:drain() self.control:_data_drain(self) end
function Data:closed(code, reason) self.control:_data_closed(self, reason) end

---------------------------------------------------------------------------
-- control connection

function Ftp:start()
  self._buf = ""
  self.cwd = "/"
  self._failures = 0
  if not self.root then
    self:reply(421, "No root folder configured.")
    return self.conn:close()
  end
  self:reply(220, self.greeting)
  self:_idle()
end

-- reply(code, text): one reply; a text with newlines becomes a multi-line reply.
function Ftp:reply(code, text)
  if not text:find("\n", 1, true) then
    return self.conn:send(code .. " " .. text .. "\r\n")
  end
  local lines = {}
  for l in text:gmatch("[^\n]+") do lines[#lines + 1] = l end
  local last = table.remove(lines)
  return self.conn:send(code .. "-" .. table.concat(lines, "\r\n") .. "\r\n" .. code .. " " .. last .. "\r\n")
end

function Ftp:_idle()
  if self._timer then self._timer:cancel() end
  self._timer = self.conn:after(self.idle_timeout, function()
    if self._xfer then return self:_idle() end
    self:reply(421, "Timeout.")
    self.conn:close(nil, "idle")
  end)
end

function Ftp:data(bytes)
  if not self._buf then Ftp.start(self) end
  self._buf = self._buf .. bytes
  if #self._buf > self.max_line * 4 and self._xfer then
    self.conn:pause() -- commands wait for the transfer; stop reading more (pause only from data())
    self._paused = true
    return
  end
  self:_process()
end

function Ftp:_process()
  if self._processing then return end
  self._processing = true
  while self.conn:is_open() do
    local buf = self._buf
    local e = buf:find("\n", 1, true)
    if not e then
      if #buf > self.max_line then
        self:reply(500, "Command line too long.")
        self.conn:close()
      end
      break
    end
    local line = buf:sub(1, e - 1):gsub("\r$", ""):gsub("\255[\240-\255]", "")
    local verb, arg = line:match("^%s*(%a+)%s?(.*)$")
    verb = verb and verb:upper()
    if self._xfer and not DURING[verb] then break end -- wait for the transfer's end
    self._buf = buf:sub(e + 1)
    self:_command(verb, arg or "", line)
  end
  self._processing = false
end

function Ftp:_command(verb, arg, line)
  self:_idle()
  if not verb then return self:reply(500, "Syntax error, command unrecognized.") end
  local fn = self["cmd_" .. verb]
  if type(fn) ~= "function" then
    if verb == "PORT" or verb == "EPRT" then
      return self:reply(502, "Active mode is not supported; use PASV or EPSV.")
    end
    return self:reply(500, "Unknown command.")
  end
  if not self.user and not OPEN[verb] then
    return self:reply(530, "Please login with USER and PASS.")
  end
  fn(self, arg)
end

function Ftp:closed()
  self._gone = true
  if self._timer then self._timer:cancel() end
  self:_drop_passive()
  self:_end_xfer()
end

---------------------------------------------------------------------------
-- paths: virtual paths ("/a/b") are jailed to the user's root; ".." stops
-- at the root, like a chroot. Real paths are checked with fs.realpath so a
-- symlink cannot lead out of the root.

-- _vpath resolves arg against the working folder, or nil for bad names.
function Ftp:_vpath(arg)
  if arg:find("[%z\1-\31\\]") then return nil end
  local path = arg:sub(1, 1) == "/" and arg or (self.cwd .. "/" .. arg)
  local segs = {}
  for seg in path:gmatch("[^/]+") do
    if seg == ".." then
      segs[#segs] = nil
    elseif seg ~= "." then
      segs[#segs + 1] = seg
    end
  end
  return "/" .. table.concat(segs, "/")
end

-- _existing: the real path and stat of an existing file or folder, or nil.
function Ftp:_existing(arg)
  local v = self:_vpath(arg)
  if not v then return nil end
  local real = fs.realpath(self._root .. v)
  if not real or not inside(real, self._root) then return nil end
  local st = fs.stat(real)
  if not st then return nil end
  return real, st, v
end

-- _entry: where a name to create, delete or rename lives: the real parent
-- folder (inside the root) plus the last name, which is not followed.
function Ftp:_entry(arg)
  local v = self:_vpath(arg)
  if not v or v == "/" then return nil end
  local parent, name = v:match("^(.*)/([^/]+)$")
  local real = fs.realpath(self._root .. parent)
  if not real or not inside(real, self._root) then return nil end
  local st = fs.stat(real)
  if not st or not st.is_dir then return nil end
  return (real == "/" and "" or real) .. "/" .. name, v
end

---------------------------------------------------------------------------
-- login and session

function Ftp:cmd_USER(arg)
  if arg == "" then return self:reply(501, "USER needs a name.") end
  if self.require_tls and not self.conn.tls then
    return self:reply(530, "TLS required: use AUTH TLS first.")
  end
  self.user, self._login = nil, arg
  self:reply(331, "Please specify the password.")
end

function Ftp:cmd_PASS(arg)
  local name = self._login
  if not name then return self:reply(503, "Login with USER first.") end
  self._login = nil
  local account
  if (name == "anonymous" or name == "ftp") and self.anonymous then
    account = { write = self.anonymous_write, anonymous = true }
  else
    local u = self.users and self.users[name]
    if u and u.password ~= nil and u.password == arg then account = u end
  end
  local want = account and (account.root or self.root)
  if want and want:sub(1, 1) ~= "/" then want = server.script_dir() .. "/" .. want end -- set after extend
  local root = want and fs.realpath(want)
  if not root then
    if account then log.warn("ftp root folder missing", "root", account.root or self.root) end
    self._failures = self._failures + 1
    log.warn("ftp login failed", "peer", self.conn.peer, "user", name, "failures", self._failures)
    if self._failures >= self.max_login_failures then
      self:reply(421, "Too many failed logins.")
      return self.conn:close(nil, "login failures")
    end
    return self:reply(530, "Login incorrect.")
  end
  self.user, self._may_write, self._root, self.cwd = name, account.write == true, root, "/"
  self:reply(230, "Login successful.")
end

function Ftp:cmd_QUIT()
  self:_abort()
  self:reply(221, "Goodbye.")
  self.conn:close()
end

function Ftp:cmd_NOOP() self:reply(200, "NOOP ok.") end
function Ftp:cmd_SYST() self:reply(215, "UNIX Type: L8") end
-- AUTH TLS (RFC 4217): the reply goes out in plaintext, then the control
-- connection becomes TLS in place.
function Ftp:cmd_AUTH(arg)
  local mech = arg:upper()
  if not server.has_tls() then return self:reply(502, "TLS is not configured on this server.") end
  if mech ~= "TLS" and mech ~= "TLS-C" and mech ~= "SSL" then
    return self:reply(504, "Only AUTH TLS is supported.")
  end
  if self.conn.tls then return self:reply(503, "TLS is already on.") end
  self:reply(234, "Proceed with TLS negotiation.")
  self.user, self._login = nil, nil -- a login starts afresh under TLS
  local rest = self._buf -- bytes after the command belong to the handshake
  self._buf = ""
  self.conn:start_tls{ leftover = rest }
end

function Ftp:cmd_PBSZ(arg)
  if not self.conn.tls then return self:reply(503, "PBSZ needs AUTH TLS first.") end
  self:reply(200, "PBSZ=0")
end

function Ftp:cmd_PROT(arg)
  local level = arg:upper()
  if not self.conn.tls then return self:reply(503, "PROT needs AUTH TLS first.") end
  if level == "P" then
    self._prot_private = true
    return self:reply(200, "Protection level set to Private.")
  elseif level == "C" then
    if self.require_tls then return self:reply(534, "Data connections must be protected.") end
    self._prot_private = false
    return self:reply(200, "Protection level set to Clear.")
  end
  self:reply(504, "Only PROT P and PROT C are supported.")
end
function Ftp:cmd_ALLO() self:reply(202, "ALLO not needed.") end

function Ftp:cmd_FEAT()
  local tls = server.has_tls() and "\n AUTH TLS\n PBSZ\n PROT" or ""
  self:reply(211, "Features:" .. tls .. "\n EPSV\n PASV\n SIZE\n MDTM\n REST STREAM\n UTF8\n TVFS\nEnd")
end

function Ftp:cmd_HELP()
  local names = {}
  local class = getmetatable(self)
  while class do
    for k in pairs(class) do
      local verb = type(k) == "string" and k:match("^cmd_(%u+)$")
      if verb then names[verb] = true end
    end
    class = getmetatable(class)
  end
  local list = {}
  for v in pairs(names) do list[#list + 1] = v end
  table.sort(list)
  self:reply(214, "Commands:\n " .. table.concat(list, " ") .. "\nHelp OK.")
end

function Ftp:cmd_OPTS(arg)
  if arg:upper():match("^UTF8%s+ON$") then return self:reply(200, "Always in UTF8 mode.") end
  self:reply(501, "Option not understood.")
end

function Ftp:cmd_TYPE(arg)
  local t = arg:upper()
  if t == "I" or t == "L 8" or t == "L8" then
    self._type = "I"
    return self:reply(200, "Switching to Binary mode.")
  elseif t == "A" or t == "A N" then
    self._type = "A" -- files are sent as they are, like most servers
    return self:reply(200, "Switching to ASCII mode.")
  end
  self:reply(504, "Unsupported type.")
end

function Ftp:cmd_MODE(arg)
  if arg:upper() == "S" then return self:reply(200, "Mode set to S.") end
  self:reply(504, "Only stream mode is supported.")
end

function Ftp:cmd_STRU(arg)
  if arg:upper() == "F" then return self:reply(200, "Structure set to F.") end
  self:reply(504, "Only file structure is supported.")
end

---------------------------------------------------------------------------
-- folders and file facts

function Ftp:cmd_PWD() self:reply(257, quote(self.cwd) .. " is the current directory") end
Ftp.cmd_XPWD = Ftp.cmd_PWD

function Ftp:cmd_CWD(arg)
  local real, st, v = self:_existing(arg == "" and "/" or arg)
  if not real or not st.is_dir then return self:reply(550, "Failed to change directory.") end
  self.cwd = v
  self:reply(250, "Directory successfully changed.")
end
Ftp.cmd_XCWD = Ftp.cmd_CWD

function Ftp:cmd_CDUP() self:cmd_CWD("..") end
Ftp.cmd_XCUP = Ftp.cmd_CDUP

function Ftp:cmd_SIZE(arg)
  local real, st = self:_existing(arg)
  if not real or not st.is_file then return self:reply(550, "Could not get file size.") end
  self:reply(213, tostring(st.size))
end

function Ftp:cmd_MDTM(arg)
  local real, st = self:_existing(arg)
  if not real or not st.is_file then return self:reply(550, "Could not get file modification time.") end
  self:reply(213, os.date("!%Y%m%d%H%M%S", st.mtime))
end

function Ftp:_can_write()
  if self._may_write then return true end
  self:reply(550, "Permission denied.")
  return false
end

function Ftp:cmd_MKD(arg)
  if not self:_can_write() then return end
  local path, v = self:_entry(arg)
  if not path or not fs.mkdir(path) then return self:reply(550, "Create directory operation failed.") end
  self:reply(257, quote(v) .. " created")
end
Ftp.cmd_XMKD = Ftp.cmd_MKD

function Ftp:cmd_RMD(arg)
  if not self:_can_write() then return end
  local path = self:_entry(arg)
  local st = path and fs.lstat(path)
  if not st or not st.is_dir or not fs.remove(path) then
    return self:reply(550, "Remove directory operation failed.")
  end
  self:reply(250, "Remove directory operation successful.")
end
Ftp.cmd_XRMD = Ftp.cmd_RMD

function Ftp:cmd_DELE(arg)
  if not self:_can_write() then return end
  local path = self:_entry(arg)
  local st = path and fs.lstat(path)
  if not st or st.is_dir or not fs.remove(path) then
    return self:reply(550, "Delete operation failed.")
  end
  self:reply(250, "Delete operation successful.")
end

function Ftp:cmd_RNFR(arg)
  if not self:_can_write() then return end
  local path = self:_entry(arg)
  if not path or not fs.lstat(path) then return self:reply(550, "RNFR command failed.") end
  self._rnfr = path
  self:reply(350, "Ready for RNTO.")
end

function Ftp:cmd_RNTO(arg)
  local from = self._rnfr
  self._rnfr = nil
  if not from then return self:reply(503, "RNFR required first.") end
  if not self:_can_write() then return end
  local path = self:_entry(arg)
  if not path or not os.rename(from, path) then return self:reply(550, "Rename failed.") end
  self:reply(250, "Rename successful.")
end

function Ftp:cmd_REST(arg)
  local n = arg:match("^%d+$") and tonumber(arg)
  if not n then return self:reply(501, "REST needs a byte offset.") end
  self._rest = n
  self:reply(350, "Restart position accepted (" .. n .. ").")
end

---------------------------------------------------------------------------
-- passive mode

-- _open_passive binds a listener on the control connection's host and a
-- free port; one data connection is accepted on it, then it closes.
function Ftp:_open_passive()
  self:_drop_passive()
  self._not_resumed = nil
  local slot = {}
  local host = host_of(self.conn.local_addr)
  local ok, ln, _, port = pcall(server.socket_bind, host, 0, Data:extend{ control = self, slot = slot })
  if not ok then
    log.warn("ftp passive listener failed", "err", tostring(ln))
    return nil
  end
  slot.listener, slot.port = ln, port
  slot.timer = self.conn:after(self.data_timeout, function()
    if self._pasv ~= slot then return end
    if self._xfer then
      self:reply(425, "Failed to establish connection.")
      self:_end_xfer()
    end
    self:_drop_passive()
    self:_process()
  end)
  self._pasv = slot
  return slot
end

-- _drop_passive closes the listener and an unused data connection.
function Ftp:_drop_passive()
  local slot = self._pasv
  if not slot then return end
  self._pasv = nil
  slot.timer:cancel()
  slot.listener:close()
  if slot.data then slot.data.conn:close() end
end

function Ftp:cmd_PASV()
  if self._epsv_all then return self:reply(503, "PASV not allowed after EPSV ALL.") end
  local host = self.passive_host or host_of(self.conn.local_addr)
  host = host:match("^::[fF][fF][fF][fF]:([%d.]+)$") or host -- IPv4-mapped
  local a, b, c, d = host:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if not a then return self:reply(425, "PASV needs IPv4; use EPSV.") end
  local slot = self:_open_passive()
  if not slot then return self:reply(425, "Cannot open passive connection.") end
  self:reply(227, ("Entering Passive Mode (%s,%s,%s,%s,%d,%d).")
    :format(a, b, c, d, math.floor(slot.port / 256), slot.port % 256))
end

function Ftp:cmd_EPSV(arg)
  local a = arg:upper()
  if a == "ALL" then
    self._epsv_all = true
    return self:reply(200, "EPSV ALL ok.")
  end
  local family = self.conn.local_addr:sub(1, 1) == "[" and "2" or "1"
  if a ~= "" and a ~= family then return self:reply(522, "Network protocol not supported, use (" .. family .. ")") end
  local slot = self:_open_passive()
  if not slot then return self:reply(425, "Cannot open passive connection.") end
  self:reply(229, "Entering Extended Passive Mode (|||" .. slot.port .. "|)")
end

---------------------------------------------------------------------------
-- transfers: a transfer starts when both its command and its data
-- connection are there, in either order. The command gets 125 when the
-- connection is already open, else 150 at once (and 425 if the connection
-- never comes).

function Ftp:_transfer(x)
  if not self._pasv then
    if x.file then x.file:close() end
    if self._not_resumed then
      self._not_resumed = nil
      return self:reply(522, REUSE_REQUIRED)
    end
    return self:reply(425, "Use PASV or EPSV first.")
  end
  x.bytes = 0
  self._xfer = x
  if self._pasv.data then
    self:reply(125, "Data connection already open; " .. x.opening)
    return self:_xfer_start()
  end
  self:reply(150, (x.opening:gsub("^%l", string.upper))) -- the data connection is still to come
end

function Ftp:_data_open(d)
  local slot = self._pasv
  slot.data = d
  slot.listener:close()
  if self._xfer then self:_xfer_start() end
end

function Ftp:_xfer_start()
  local x, slot = self._xfer, self._pasv
  x.data = slot.data
  slot.timer:cancel()
  self._pasv = nil -- the connection now belongs to the transfer
  if x.kind == "send" then
    self:_pump()
  else -- receive: bytes that came early, then read on
    local early = x.data._early
    x.data._early = nil
    if early then self:_write(early) end
    if self._xfer == x then x.data.conn:resume() end
  end
end

-- _pump sends the listing or file chunks until the data queue is above
-- high water; drain calls it again.
function Ftp:_pump()
  local x = self._xfer
  local conn = x.data.conn
  if x.text then
    local text = x.text
    x.text = nil
    x.bytes = #text
    conn:send(text)
    return self:_xfer_done()
  end
  while self._xfer == x do
    local chunk, err = x.file:read(self.chunk_size)
    if err then
      log.warn("ftp read failed", "path", x.path, "err", tostring(err))
      self:reply(451, "Local error reading the file.")
      self:_end_xfer()
      return self:_process()
    end
    if not chunk then return self:_xfer_done() end
    x.bytes = x.bytes + #chunk
    if not conn:send(chunk) then return end -- wait for drain (or closed)
  end
end

function Ftp:_data_drain(d)
  local x = self._xfer
  if x and x.data == d and x.kind == "send" then self:_pump() end
end

function Ftp:_data_in(d, bytes)
  local x = self._xfer
  if x and x.data == d and x.kind == "receive" then return self:_write(bytes) end
  -- the command has not come yet (or is not an upload): hold the bytes
  d._early = (d._early or "") .. bytes
  d.conn:pause()
end

function Ftp:_write(bytes)
  local x = self._xfer
  local ok, err = x.file:write(bytes)
  if not ok then
    log.warn("ftp write failed", "path", x.path, "err", tostring(err))
    self:reply(451, "Local error writing the file.")
    self:_end_xfer()
    return self:_process()
  end
  x.bytes = x.bytes + #bytes
end

-- what a data connection whose TLS did not resume a session hears
local NOT_RESUMED = "tls: session not resumed"
local REUSE_REQUIRED = "TLS session reuse required on the data connection."

function Ftp:_data_closed(d, reason)
  local slot = self._pasv
  if slot and slot.data == d then -- closed before any command used it
    self._pasv = nil
    slot.timer:cancel()
    slot.listener:close()
    self._not_resumed = reason == NOT_RESUMED or nil
    return
  end
  local x = self._xfer
  if not x or x.data ~= d or x.done then return end
  if x.flushing and reason == "closed" then return self:_xfer_done() end
  if reason == NOT_RESUMED and not self._gone then
    self:reply(522, REUSE_REQUIRED)
    self:_end_xfer()
    return self:_process()
  end
  if x.kind == "receive" and reason == "peer closed" then
    local ok, err = x.file:close()
    x.file = nil
    if not ok then
      self:reply(452, "Could not write the file: " .. tostring(err))
      self:_end_xfer()
      return self:_process()
    end
    return self:_xfer_done()
  end
  if self._gone then return end
  self:reply(426, "Connection closed; transfer aborted.")
  self:_end_xfer()
  self:_process()
end

-- _xfer_done: the transfer went through; close the data connection, 226.
function Ftp:_xfer_done()
  local x = self._xfer
  if x.kind == "send" and not x.flushing and self._prot_private and not x.data.conn.tls then
    -- PROT P, and the data connection's TLS handshake is not over: what
    -- was queued goes out after it, so the 226 waits for the connection's
    -- end (closed, reason "closed") and a failed handshake is not reported
    -- as a complete transfer.
    x.flushing = true
    if x.file then x.file:close(); x.file = nil end
    return x.data.conn:close()
  end
  x.done = true
  self:_end_xfer()
  if self.log_transfers then
    log.info("ftp", "peer", self.conn.peer, "user", self.user, "cmd", x.cmd, "path", x.path, "bytes", x.bytes)
  end
  self:reply(226, x.closing or "Transfer complete.")
  self:_process()
end

-- _end_xfer frees the transfer: file and data connection.
function Ftp:_end_xfer()
  local x = self._xfer
  if not x then return end
  self._xfer = nil
  x.done = true
  if x.file then x.file:close(); x.file = nil end
  if x.data then x.data.conn:close() end
  if self._paused then self._paused = false; self.conn:resume() end
end

function Ftp:_abort()
  self:_drop_passive()
  if self._xfer then
    self:_end_xfer()
    self:reply(426, "Transfer aborted.")
    return true
  end
end

function Ftp:cmd_ABOR()
  if self:_abort() then return self:reply(226, "Abort successful.") end
  self:reply(225, "No transfer to abort.")
end

function Ftp:_listing(arg, names_only)
  local opts = ""
  while true do -- ls options some clients send: LIST -la path
    local o, rest = arg:match("^%-(%a+)%s*(.*)$")
    if not o then break end
    opts, arg = opts .. o, rest
  end
  local real, st = self:_existing(arg == "" and "." or arg)
  if not real then return nil end
  local now = os.time()
  local out = {}
  local function add(name, path)
    local lst = fs.lstat(path)
    if not lst then return end
    local s = lst
    if lst.is_link then -- show what it points to, if that is inside the root
      local r = fs.realpath(path)
      if not r or not inside(r, self._root) then return end
      s = fs.stat(r)
      if not s then return end
    end
    out[#out + 1] = names_only and (name .. "\r\n") or ls_line(name, s, now)
  end
  if not st.is_dir then
    add(real:match("([^/]+)$"), real)
  else
    for _, name in ipairs(fs.list(real) or {}) do
      add(name, (real == "/" and "" or real) .. "/" .. name)
    end
  end
  return table.concat(out)
end

function Ftp:cmd_LIST(arg)
  local text = self:_listing(arg, false)
  if not text then return self:reply(550, "No such file or directory.") end
  self:_transfer{ kind = "send", cmd = "LIST", path = arg, text = text,
    opening = "here comes the directory listing.", closing = "Directory send OK." }
end

function Ftp:cmd_NLST(arg)
  local text = self:_listing(arg, true)
  if not text then return self:reply(550, "No such file or directory.") end
  self:_transfer{ kind = "send", cmd = "NLST", path = arg, text = text,
    opening = "here comes the directory listing.", closing = "Directory send OK." }
end

function Ftp:cmd_RETR(arg)
  local rest = self._rest or 0
  self._rest = nil
  local real, st = self:_existing(arg)
  if not real or not st.is_file then return self:reply(550, "Failed to open file.") end
  local f = io.open(real, "rb")
  if not f then return self:reply(550, "Failed to open file.") end
  if rest > 0 then f:seek("set", math.min(rest, st.size)) end
  self:_transfer{ kind = "send", cmd = "RETR", path = arg, file = f,
    opening = ("opening %s mode data connection for %s (%d bytes).")
      :format(self._type == "A" and "ASCII" or "BINARY", arg, st.size - math.min(rest, st.size)) }
end

-- _store opens the target of STOR/APPE: a plain name in a folder inside
-- the root; an existing entry must be a file (a symlink must stay inside).
function Ftp:_store(arg, mode, cmd)
  local rest = self._rest or 0
  self._rest = nil
  if not self:_can_write() then return end
  local path = self:_entry(arg)
  if not path then return self:reply(553, "Could not create file.") end
  local lst = fs.lstat(path)
  if lst then
    if lst.is_link then
      local r = fs.realpath(path)
      if not r or not inside(r, self._root) then return self:reply(553, "Could not create file.") end
      lst = fs.stat(r)
    end
    if not lst or not lst.is_file then return self:reply(553, "Could not create file.") end
  end
  if rest > 0 and mode == "wb" then mode = lst and "r+b" or "wb" end
  if not lst then fs.create(path, self.file_mode) end -- io.open alone would make it 0600
  local f = io.open(path, mode)
  if not f then return self:reply(553, "Could not create file.") end
  if rest > 0 and mode == "r+b" then f:seek("set", rest) end
  self:_transfer{ kind = "receive", cmd = cmd, path = arg, file = f, opening = "ok to send data." }
end

function Ftp:cmd_STOR(arg) self:_store(arg, "wb", "STOR") end
function Ftp:cmd_APPE(arg) self:_store(arg, "ab", "APPE") end

return Ftp
