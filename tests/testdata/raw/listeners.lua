-- listeners.lua: opens two listeners with their own classes while it
-- loads (server.socket_bind and server.listen), and more at run time on
-- request: one with a class, one with the defaults (host 127.0.0.1, a free
-- port, the main class).
local Side = {}
function Side:start() self.conn:send("side hello\n") end
function Side:data(b) self.conn:send("side:" .. b) end

local Third = {}
function Third:data(b) self.conn:send("third:" .. b) end

local Late = {}
function Late:data(b) self.conn:send("late:" .. b) end

local ln, host, port = server.socket_bind("127.0.0.1", 0, Side)
log.info("side listener", "addr", host .. ":" .. port, "same", tostring(ln.port == port and ln.host == host))
local l2, h2, p2 = server.listen{host = "127.0.0.1", port = 0, class = Third}
log.info("third listener", "addr", h2 .. ":" .. p2, "same", tostring(l2.port == p2))

local Main = {}
function Main:data(b)
  if b == "bind\n" then
    local l, h, p = server.socket_bind("127.0.0.1", 0, Late)
    self.conn:send("late " .. h .. ":" .. p .. "\n")
  elseif b == "bind default\n" then
    local l, h, p = server.socket_bind()
    self.conn:send("default " .. h .. ":" .. p .. "\n")
  else
    self.conn:send("main:" .. b)
  end
end
return Main
