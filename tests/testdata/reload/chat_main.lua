{{- if eq .Break "syntax"}}-- broken
local broken = = 1
{{else if eq .Break "throw"}}-- throws
error("boom")
{{end -}}
-- chat_main.lua (a template), version {{.N}}: the chat of
-- TestReloadUnderLoad. .Break "syntax" or "throw" puts the fault on line 2,
-- .Reloaded adds a reloaded method, .Return is "class", "string" or ""
-- (nothing returned). Each message gets
-- "TAG|payload|n|self.tag|conn.version": TAG is the version's tag module
-- (captured by the class's code), n the shared counter in server.state,
-- self.tag the field set at open (and by reloaded, when the version has
-- one). "stat" answers "stat|n|server.version()|server.count()" without
-- counting.
local WebSocket = require "websocket"
local TAG = require "tag"
local counts = server.state("counts", {n = 0})

local Chat = WebSocket:extend()
Chat.TAG = TAG

function Chat:open(req)
  self.tag = TAG
end

function Chat:message(data, kind)
  if data == "stat" then
    self:send("stat|" .. counts.n .. "|" .. server.version() .. "|" .. server.count())
    return
  end
  counts.n = counts.n + 1
  self:send(TAG .. "|" .. data .. "|" .. counts.n .. "|" .. tostring(self.tag) .. "|" .. self.conn.version)
end
{{if .Reloaded}}
function Chat:reloaded(old_class)
  if type(old_class) ~= "table" or old_class.TAG == nil or old_class.TAG == TAG then
    error("reloaded: unexpected old class " .. tostring(old_class and old_class.TAG))
  end
  self.tag = TAG
end
{{end}}
{{if eq .Return "class"}}return Chat{{else if eq .Return "string"}}return "not a class"{{else}}-- forgot to return the class{{end}}
