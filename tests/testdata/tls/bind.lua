-- bind.lua: app.lua on the --listen ports, and on two listeners of its
-- own: one with tls = true, one plaintext only.
local App = require "app"
server.socket_bind("127.0.0.1", 0, App, { tls = true })
server.listen{ host = "127.0.0.1", port = 0, class = App }
return App
