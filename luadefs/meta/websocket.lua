---@meta websocket

---The WebSocket client base class: the opening handshake in Lua, then
---native framing; message(payload, kind) gets each whole message.
---@class WebSocket: FatClient
---@field options? table per-class options, see WebSocket.defaults
---@field defaults table the default options (max_head, handshake_timeout, origins, max_message, max_frame, ping_interval, idle_timeout, compress, ...)
---@field protocol? string the subprotocol chosen
---@field extensions? string the extensions answered
local WebSocket = {}

---The class's option name, or its default.
---@param name string
---@return any
function WebSocket:option(name) end

---Return false or an HTTP status to refuse the handshake (default: allow).
---@param req pocketlua.http.request
---@return boolean|integer|nil
function WebSocket:authorize(req) end

---Returns one of the offered subprotocols, or nil.
---@param offered string[]
---@param req pocketlua.http.request
---@return string?
function WebSocket:select_protocol(offered, req) end

---The handshake is done; keep what you need from req.
---@param req pocketlua.http.request
function WebSocket:open(req) end

---Arms the handshake timeout; a subclass's start calls WebSocket.start(self).
function WebSocket:start() end

---Answers the handshake with an HTTP error and closes.
---@param status integer
---@param message? string
---@param headers? table<string, string>
function WebSocket:refuse(status, message, headers) end

---Reads the handshake request (before the upgrade).
---@param bytes string
function WebSocket:data(bytes) end

---Sends one message, text by default.
---@param data string
---@param kind? "text"|"binary"
---@return boolean below_high_water
function WebSocket:send(data, kind) end

---Starts the close handshake (code 1000 by default).
---@param code? integer
---@param reason? string
function WebSocket:close(code, reason) end

return WebSocket
