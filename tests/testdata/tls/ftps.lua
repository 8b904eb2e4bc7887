-- ftps.lua (a template: its value is the root folder): ftp.lua with
-- explicit TLS required before a login.
local Ftp = require "ftp"
return Ftp:extend{
  root = {{lua .}},
  users = { alice = { password = "s3cret", write = true } },
  anonymous = false,
  require_tls = true,
  data_timeout = 5,
}
