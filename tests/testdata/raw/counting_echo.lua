-- counting_echo.lua: echoes, and answers the line "count" with server.count().
local Echo = require "tcp_echo"
local C = Echo:extend()
function C:data(bytes)
  if bytes == "count\n" then
    self.conn:send(server.count() .. "\n")
    return
  end
  Echo.data(self, bytes)
end
return C
