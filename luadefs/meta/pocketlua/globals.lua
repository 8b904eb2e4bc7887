---@meta
-- pocketlua: the globals every script sees, the conn userdata, timers and
-- listeners. Written by `pocketlua types`; regenerate after an upgrade.

---The `server` module, also a global.
server = require "server"

---The `log` module, also a global.
log = require "log"

---Rebuilds t's storage from its live entries in place (same table, same
---metatable), dropping keys set to nil: gopher-lua keeps them otherwise.
---@param t table
function table.compact(t) end

---A connection: the `conn` field of every instance.
---@class pocketlua.conn: userdata
---@field id integer the connection's number, unique in this worker
---@field fd integer the socket's file descriptor
---@field peer string the peer's address, host:port
---@field local_addr string the local address, host:port
---@field version integer the script version the connection started with
---@field mode "raw"|"websocket" the framing mode
local conn = {}

---Sends bytes (raw mode) or one message (WebSocket mode); false when the
---queue is above the high-water mark (wait for drain).
---@param data string
---@param kind? "text"|"binary" WebSocket mode only; default binary
---@return boolean below_high_water
function conn:send(data, kind) end

---Sends one WebSocket text message.
---@param data string valid UTF-8
---@return boolean below_high_water
function conn:send_text(data) end

---Sends one WebSocket binary message.
---@param data string
---@return boolean below_high_water
function conn:send_binary(data) end

---Sends a WebSocket ping.
---@param payload? string at most 125 bytes
---@return boolean below_high_water
function conn:ping(payload) end

---Closes the connection; in WebSocket mode starts the close handshake with code and reason.
---@param code? integer WebSocket close code (default 1000)
---@param reason? string at most 123 bytes
function conn:close(code, reason) end

---Bytes queued for the peer.
---@return integer
function conn:buffered() end

---Stops reading from the peer until resume.
function conn:pause() end

---Reads from the peer again after pause.
function conn:resume() end

---Whether the connection is open (not closed nor closing).
---@return boolean
function conn:is_open() end

---Calls fn after seconds; cancelled when the connection ends.
---@param seconds number
---@param fn fun()
---@return pocketlua.timer
function conn:after(seconds, fn) end

---Switches to WebSocket framing after the script answered the handshake.
---@param mode "websocket"
---@param opts? {max_message?: integer, max_frame?: integer, ping_interval?: number, idle_timeout?: number, deflate?: table}
---@param leftover? string input read after the handshake, decoded first
function conn:upgrade(mode, opts, leftover) end

---Subscribes to a topic or a pattern ("room.*": one token, "room.>": one or
---more); raises on a bad topic or over --max-subscriptions. Ends at close.
---@param topic string
---@return boolean added false when already subscribed
function conn:subscribe(topic) end

---Ends a subscription.
---@param topic string
---@return boolean removed false when it was not one
function conn:unsubscribe(topic) end

---A pending callback from after/every.
---@class pocketlua.timer: userdata
local timer = {}

---Cancels the timer; true if it was pending.
---@return boolean
function timer:cancel() end

---Whether the timer will still fire.
---@return boolean
function timer:pending() end

---A listening socket opened by server.socket_bind or server.listen.
---@class pocketlua.listener: userdata
---@field host string
---@field port integer
local listener = {}

---Stops listening; connections already accepted go on.
function listener:close() end

---What accept(info) receives.
---@class pocketlua.accept_info
---@field id integer
---@field peer string
---@field local_addr string
