---@meta ws

---WebSocket handshake helpers in Go (websocket.lua uses them).
---@class pocketlua.ws
local ws = {}

---The Sec-WebSocket-Accept value for a key.
---@param key string
---@return string
function ws.accept_key(key) end

---true for a valid upgrade request, else nil, an HTTP status and a response.
---@param req pocketlua.http.request
---@return true|nil ok
---@return integer? status
---@return string? response
function ws.check(req) end

---The subprotocols the request offers, in order.
---@param req pocketlua.http.request
---@return string[]
function ws.protocols(req) end

---The 101 response for a request that passed ws.check.
---@param req pocketlua.http.request
---@param opts? {protocol?: string, extensions?: string, headers?: table<string, string>}
---@return string
function ws.handshake_response(req, opts) end

---Picks the request's first acceptable permessage-deflate offer: the
---Sec-WebSocket-Extensions answer and the agreed parameters, or nil.
---@param req pocketlua.http.request
---@param opts? {server_context_takeover?: boolean, client_context_takeover?: boolean, client_max_window_bits?: integer}
---@return string? extensions
---@return table? params
function ws.negotiate_deflate(req, opts) end

return ws
