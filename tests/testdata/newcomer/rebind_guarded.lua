-- rebind_guarded.lua (a template: the port): an echo whose main chunk
-- binds a fixed side port once, kept in server.state across reloads.
local st = server.state("listeners")
if not st.side then st.side = server.socket_bind("127.0.0.1", {{.}}) end
return require "tcp_echo"
