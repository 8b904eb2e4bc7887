---@meta tcp_echo

---A raw TCP echo with backpressure.
---@class TcpEcho: FatClient
local TcpEcho = {}

---Sends the bytes back; pauses reading when the peer is slow.
---@param bytes string
function TcpEcho:data(bytes) end

---Resumes reading.
function TcpEcho:drain() end

return TcpEcho
