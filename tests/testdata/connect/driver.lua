-- driver.lua: a main script that lets a test drive server.connect
-- over a raw control connection, one command per line:
--
--   connect <tag> <host> <port> [timeout]   start an outbound connection
--   send <tag> <text>                        send text on it
--   close <tag>                              close it
--   ping                                     answered "pong"
--   count                                    answered "count <server.count()> <stats.outbound>"
--
-- and reports every event of connection <tag> as a line "<tag> <event> ...":
-- "start <peer>", "data <bytes>", "closed <code> <reason>", "error <err>".
local Backend = {}
local function report(self, ...)
  if self.ctl.conn:is_open() then
    self.ctl.conn:send(self.tag .. " " .. table.concat({...}, " ") .. "\n")
  end
end
function Backend:start() report(self, "start", self.conn.peer) end
function Backend:data(bytes) report(self, "data", bytes) end
function Backend:closed(code, reason) report(self, "closed", tostring(code), reason) end

local Control = {}
function Control:start() self.buf, self.tags = "", {} end
function Control:command(line)
  local cmd, rest = line:match("^(%S+)%s*(.*)$")
  if cmd == "connect" then
    local tag, host, port, timeout = rest:match("^(%S+) (%S+) (%d+)%s*(%S*)$")
    local inst, err = server.connect(host, tonumber(port), Backend,
      { connect_timeout = tonumber(timeout) })
    if not inst then
      self.conn:send(tag .. " error " .. err .. "\n")
      return
    end
    inst.tag, inst.ctl = tag, self     -- set before start: start runs in a later round
    self.tags[tag] = inst
  elseif cmd == "send" then
    local tag, text = rest:match("^(%S+) (.*)$")
    self.tags[tag].conn:send(text)
  elseif cmd == "close" then
    self.tags[rest].conn:close()
  elseif cmd == "ping" then
    self.conn:send("pong\n")
  elseif cmd == "count" then
    self.conn:send("count " .. server.count() .. " " .. server.stats().outbound .. "\n")
  end
end
function Control:data(bytes)
  self.buf = self.buf .. bytes
  local nl = self.buf:find("\n", 1, true)
  while nl do
    self:command(self.buf:sub(1, nl - 1))
    self.buf = self.buf:sub(nl + 1)
    nl = self.buf:find("\n", 1, true)
  end
end
return Control
