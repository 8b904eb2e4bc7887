-- fatclient: the base of every client class. A class is a plain table;
-- instances are setmetatable({conn = conn}, Class), made by the server.
local fs = require "fs"

local FatClient = {}
FatClient.__index = FatClient

-- Class:extend([fields]) makes a subclass that inherits every method.
function FatClient:extend(fields)
  local class = fields or {}
  class.__index = class
  class.super = self
  return setmetatable(class, self)
end

-- Class:include(mixin) copies a mixin's functions into the class.
function FatClient:include(mixin)
  for k, v in pairs(mixin) do
    if self[k] == nil then self[k] = v end
  end
  return self
end

function FatClient:send(data, kind) return self.conn:send(data, kind) end
function FatClient:close(code, reason) return self.conn:close(code, reason) end

-- self:become(Class[, bytes]) hands this connection to another class: the
-- same instance (so its fields stay) gets Class as its metatable, Class's
-- start runs if it has one, then bytes (input already read, e.g. by a
-- protocol sniffer) are replayed through Class's data. The engine picks the
-- new class's handlers up at the next event. Timers made with after() keep
-- running: cancel the old class's own timers before becoming. Returns self.
function FatClient:become(class, bytes)
  if rawget(class, "__index") == nil then class.__index = class end
  setmetatable(self, class)
  if self.start then self:start() end
  if bytes and bytes ~= "" and self.conn:is_open() and self.data then
    self:data(bytes)
  end
  return self
end

-- script_level is the stack level of the nearest script code calling a
-- battery (for error), or 0 when a tail call left none.
local function script_level()
  for level = 3, 20 do
    local info = debug.getinfo(level, "S")
    if not info then break end
    if info.what ~= "tail" and info.source and info.source ~= "=?" and not info.source:find("embedded:", 1, true)
      and info.what ~= "C" then
      return level
    end
  end
  return 0
end

-- FatClient.folder(path, what): path made absolute from the main script's
-- folder (so a script finds "www" beside itself wherever it is run from);
-- raises, naming the script's line, unless it is a folder.
function FatClient.folder(path, what)
  if type(path) ~= "string" or path == "" then
    error(("%s must be a folder name, got %s"):format(what, type(path)), script_level())
  end
  local abs = path:sub(1, 1) == "/" and path or server.script_dir() .. "/" .. path
  local st = fs.stat(abs)
  if not st or not st.is_dir then
    error(("%s %q: no such folder (%s; a relative root is taken from the script's folder)"):format(what, path, abs),
      script_level())
  end
  return abs
end

-- self:log_http(req, status, bytes): the access line of one HTTP answer
-- (httpd.lua's responses, websocket.lua's handshakes), when the class or
-- the instance sets access_log. A 401 or 403 is logged as "http denied"
-- at warn even without it: operators watch for guessing.
function FatClient:log_http(req, status, bytes)
  local denied = status == 401 or status == 403
  if not self.access_log and not denied then return end
  local emit = self.access_log and log.info or log.warn
  emit(denied and "http denied" or "http", "peer", self.conn.peer, "method", req and req.method or "-",
    "path", req and req.target or "-", "status", status, "bytes", bytes or 0)
end

-- self:after(seconds, fn) calls fn(self) later; cancelled if the connection ends.
function FatClient:after(seconds, fn)
  return self.conn:after(seconds, function() fn(self) end)
end

return FatClient
