---@meta mux

---One port, many protocols: looks at the first bytes and hands the
---connection to the class that speaks that protocol (self:become).
---@class Mux: FatClient
---@field routes {name?: string, match: string|fun(head: string, self: Mux): boolean?, class: table|fun(head: string, self: Mux): table}[] tried in order
---@field server_first? table class for a client that stays silent for wait seconds
---@field wait number seconds of silence before server_first is chosen (0.3)
---@field fallback? table class for input no route wants (nil: close)
---@field max_head integer bytes buffered while undecided (4096)
---@field timeout number seconds to decide once connected (10)
---@field log_routes boolean log.debug each decision
---@field http_methods string[] the methods Mux.http knows
---@field mux_route? string the route that took the connection
---@field RefuseTLS table a class that answers a TLS ClientHello with a handshake_failure alert
local Mux = {}

---A matcher for the literal prefix p.
---@param p string
---@return fun(head: string): boolean?
function Mux.prefix(p) end

---Matches a head that starts with an HTTP method and a space.
---@param head string
---@return boolean?
function Mux.http(head) end

---Matches an HTTP request that asks for "Upgrade: websocket".
---@param head string
---@return boolean?
function Mux.websocket(head) end

---Matches a TLS ClientHello.
---@param head string
---@return boolean?
function Mux.tls(head) end

---Matches an SSH client's identification line ("SSH-2.0-" or "SSH-1.99-").
---@param head string
---@return boolean?
function Mux.ssh(head) end

---Matches everything (a last route).
---@param head string
---@return true
function Mux.any(head) end

---Arms the silence or detection timer.
function Mux:start() end

---Decides: the class (and the route's name), false when no route wants the
---bytes, nil to wait for more. Override for other rules.
---@param head string
---@return table|false|nil class
---@return string? name
function Mux:route(head) end

---Buffers and routes the first bytes.
---@param bytes string
function Mux:data(bytes) end

return Mux
