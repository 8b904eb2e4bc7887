-- tcp_echo: a raw TCP echo. When the peer stops reading, the output queue
-- fills, send returns false and we stop reading too until it drains, so
-- TCP throttles the peer instead of the server's memory growing.
local FatClient = require "fatclient"

local Echo = FatClient:extend()

function Echo:data(bytes)
  if not self.conn:send(bytes) then self.conn:pause() end
end

function Echo:drain()
  self.conn:resume()
end

return Echo
