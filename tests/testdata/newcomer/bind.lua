-- bind.lua: an echo that binds a side listener with an empty host and
-- logs the host it got ("bound", host).
local _, host = server.socket_bind("", 0)
log.info("bound", "host", host)
return require "tcp_echo"
