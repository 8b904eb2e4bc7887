-- side.lua: an echo whose main chunk also opens a listener of its own on
-- a free loopback port, for the startup record's script_listeners.
server.socket_bind("127.0.0.1", 0)
return require "tcp_echo"
