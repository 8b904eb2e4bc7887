-- quit.lua: an echo that shuts the server down 50 ms after it starts.
server.after(0.05, server.shutdown)
return require "tcp_echo"
