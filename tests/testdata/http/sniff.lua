-- sniff.lua (a template: .Root and .FTPRoot are the sites' folders):
-- hands a connection to Httpd once 40 bytes arrived (replaying them), or
-- to Ftp when the client stays silent for 0.3 s, as mux.lua does.
local FatClient = require "fatclient"
local Httpd = require "httpd"
local Ftp = require "ftp"
local Site = Httpd:extend{ root = {{lua .Root}} }
local Files = Ftp:extend{ root = {{lua .FTPRoot}} }

-- become as fatclient.lua does it (when it has it), else by hand
local function become(self, class, bytes)
  if FatClient.become then return self:become(class, bytes) end
  setmetatable(self, class)
  self:start()
  if bytes then self:data(bytes) end
end

local Sniff = FatClient:extend()
function Sniff:start()
  self.head = ""
  self.timer = self.conn:after(0.3, function() become(self, Files) end)
end
function Sniff:data(bytes)
  self.timer:cancel()
  self.head = self.head .. bytes
  if #self.head >= 40 then become(self, Site, self.head) end
end
return Sniff
