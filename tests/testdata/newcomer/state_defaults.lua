-- state_defaults.lua (a template: true for the second version's
-- defaults, which add keys and change kept ones): counts reads in
-- server.state and answers with what the state holds.
{{- if .}}
local st = server.state("app", { hits = 100, limit = 5, nested = { a = 9, b = 2 } })
{{- else}}
local st = server.state("app", { hits = 0, nested = { a = 1 } })
{{- end}}
local C = {}
function C:data(b)
  st.hits = st.hits + 1
  self.conn:send(("hits=%d limit=%s a=%s b=%s\n"):format(st.hits, tostring(st.limit), tostring(st.nested.a), tostring(st.nested.b)))
end
return C
