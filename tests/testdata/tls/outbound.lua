-- outbound.lua (a template: .CA, .Cert, .Key, .Fifo, .Missing): a line
-- protocol whose "GO <port> <how>" connects out over TLS and reports what
-- happened; "PING" answers "PONG" (the loop is free).
local Out = {}
Out.__index = Out

function Out:start()
  self.conn:send("hello from pocketlua\n")
end

function Out:data(bytes)
  local t = self.conn.tls
  self.owner.conn:send("got " .. bytes:gsub("\n", "") .. " over " .. (t and t.version or "plaintext") .. "\n")
  self.conn:close()
end

function Out:closed(code, reason)
  self.owner.conn:send("closed " .. tostring(reason) .. "\n")
end

local options = {
  good = { tls = true, server_name = "localhost", ca = {{lua .CA}} },
  cert = { tls = true, server_name = "localhost", ca = {{lua .CA}}, cert = {{lua .Cert}}, key = {{lua .Key}} },
  system = { tls = true, server_name = "localhost" },
  wrongname = { tls = true, server_name = "elsewhere.test", ca = {{lua .CA}} },
  slowca = { tls = true, server_name = "localhost", ca = {{lua .Fifo}} },
  missing = { tls = true, server_name = "localhost", ca = {{lua .Missing}} },
  badkey = { tls = true, server_name = "localhost", ca = {{lua .CA}}, cert = {{lua .Cert}}, key = {{lua .CA}} },
}

local App = {}
App.__index = App

function App:data(bytes)
  for line in bytes:gmatch("[^\n]+") do
    if line == "PING" then
      self.conn:send("PONG\n")
    else
      local port, how = line:match("^GO (%d+) (%a+)")
      local Client = setmetatable({ owner = self }, Out)
      Client.__index = Client
      local inst, err = server.connect("127.0.0.1", tonumber(port), Client, options[how])
      if not inst then self.conn:send("error " .. err .. "\n") end
    end
  end
end

return App
