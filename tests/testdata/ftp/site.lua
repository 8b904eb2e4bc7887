-- site.lua (a template: its value is the root folder): serves root with
-- two configured users: alice may write, bob may only read.
local Ftp = require "ftp"
local Site = Ftp:extend{
  root = {{lua .}},
  users = {
    alice = { password = "s3cret", write = true },
    bob = { password = "hunter2" },
  },
  data_timeout = 1,
  log_transfers = true,
}
return Site
