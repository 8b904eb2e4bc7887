-- migrate.lua (a template: .Migrate, the class's migrate flag; .Word, the
-- reply's first word; .Reloaded adds a reloaded method that refuses even
-- connection ids): answers each read with "<word> v<version>".
local C = { migrate = {{.Migrate}} }
function C:data(b) self.conn:send({{lua .Word}} .. " v" .. self.conn.version .. "\n") end
{{- if .Reloaded}}
function C:reloaded(old) if self.conn.id % 2 == 0 then error("stay") end end
{{- end}}
return C
