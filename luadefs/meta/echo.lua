---@meta echo

---A WebSocket echo: every message goes back with its kind.
---@class Echo: WebSocket
local Echo = {}

---Sends the message back; pauses reading when the peer is slow.
---@param data string
---@param kind "text"|"binary"
function Echo:message(data, kind) end

---Resumes reading.
function Echo:drain() end

return Echo
