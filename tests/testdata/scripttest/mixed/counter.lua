-- A raw line counter: counts lines, answers "n\n" to each, closes on "quit".
local FatClient = require "fatclient"
local Counter = FatClient:extend()

function Counter:start() self.n = 0 end

function Counter:data(bytes)
  for line in bytes:gmatch("[^\n]+") do
    if line == "quit" then return self.conn:close() end
    self.n = self.n + 1
    self.conn:send(self.n .. "\n")
  end
end

return Counter
