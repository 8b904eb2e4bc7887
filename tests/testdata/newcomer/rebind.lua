-- rebind.lua (a template: the port): an echo whose main chunk binds a
-- fixed side port unguarded, so that reloading it fails.
server.socket_bind("127.0.0.1", {{.}})
return require "tcp_echo"
