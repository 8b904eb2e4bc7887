-- watch_main.lua (a template: the modules' names): the --watch test's main
-- script; it answers each message with "<parts joined by +>|payload", one
-- part per required module.
local WebSocket = require "websocket"
{{range $i, $m := .}}local M{{$i}} = require "{{$m}}"
{{end -}}
local W = WebSocket:extend()
function W:message(data) self:send({{range $i, $m := .}}{{if $i}} .. "+" .. {{end}}M{{$i}}{{end}} .. "|" .. data) end
return W
