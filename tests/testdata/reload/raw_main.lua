-- raw_main.lua (a template: true adds a reloaded method): a raw TCP class;
-- every read is answered with "TAG\n" (TAG from the tag module), or with
-- the number of open connections for "count".
local FatClient = require "fatclient"
local TAG = require "tag"

local C = FatClient:extend()
C.TAG = TAG

function C:start()
  self.since = TAG
end

function C:data(bytes)
  if bytes == "count\n" then
    self.conn:send(server.count() .. "\n")
  else
    self.conn:send(TAG .. "\n")
  end
end
{{if .}}
function C:reloaded(old_class)
  self.from = old_class.TAG
end
{{end}}
return C
