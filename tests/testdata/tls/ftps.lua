-- ftps.lua (a template: .Root, .Reuse): ftp.lua with explicit TLS
-- required before a login; with .Reuse, data connections must resume a
-- TLS session.
local Ftp = require "ftp"
return Ftp:extend{
  root = {{lua .Root}},
  users = { alice = { password = "s3cret", write = true } },
  anonymous = false,
  require_tls = true,
  require_session_reuse = {{.Reuse}},
  data_timeout = 5,
}
