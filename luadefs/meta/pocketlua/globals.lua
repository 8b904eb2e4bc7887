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
---@field tls? pocketlua.tls_info nil on plaintext; the TLS the engine terminated (docs/TLS.md)
local conn = {}

---conn.tls: what was negotiated.
---@class pocketlua.tls_info
---@field version string "TLS 1.2" or "TLS 1.3"
---@field cipher string the cipher suite's IANA name
---@field server_name string the SNI name the client sent, "" for none
---@field alpn string the agreed ALPN protocol ("http/1.1"), "" for none
---@field resumed boolean the handshake resumed an earlier session
---@field peer pocketlua.tls_peer? the client certificate (--tls-client-auth)

---The client certificate's leaf.
---@class pocketlua.tls_peer
---@field subject string
---@field issuer string
---@field not_after integer Unix seconds
---@field fingerprint_sha256 string lowercase hex of the DER's SHA-256

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

---Makes the connection TLS in place (server side): the next input is a
---ClientHello, through the same handshake path and limits as a TLS port.
---Output sent meanwhile is encrypted once the handshake is over; conn.tls
---is set then. Raises without --tls-cert, or on a connection already TLS.
---opts.leftover: input already read that belongs to the handshake;
---opts.require_resumption: close a handshake that resumes no session.
---@param opts? {leftover?: string, require_resumption?: boolean}
function conn:start_tls(opts) end
---Subscribes to a topic or a pattern ("room.*": one token, "room.>": one or
---more); raises on a bad topic or over --max-subscriptions. Ends at close.
---@param topic string
---@return boolean added false when already subscribed
function conn:subscribe(topic) end

---Ends a subscription.
---@param topic string
---@return boolean removed false when it was not one
function conn:unsubscribe(topic) end

---A dictionary every worker of the process shares (server.shared); each
---call is atomic. Values are strings, numbers and booleans.
---@class pocketlua.shared: userdata
local shared = {}

---The value, or nil when absent or expired.
---@param key string
---@return string|number|boolean|nil
function shared:get(key) end

---Stores value (nil deletes) for ttl seconds (0 or nil: no expiry),
---evicting the least recently used keys to make room; raises when the
---value alone does not fit the capacity.
---@param key string
---@param value string|number|boolean|nil
---@param ttl? number
---@return true
function shared:set(key, value, ttl) end

---Stores value only when key is absent.
---@param key string
---@param value string|number|boolean
---@param ttl? number
---@return boolean added
function shared:add(key, value, ttl) end

---Adds n to a number and returns the sum; an absent key starts at init
---(without init: nil, "not found").
---@param key string
---@param n number
---@param init? number
---@return number? sum
---@return string? err
function shared:incr(key, n, init) end

---Removes key.
---@param key string
function shared:delete(key) end

---Seconds key has left (0: no expiry), or nil, "not found".
---@param key string
---@return number? seconds
---@return string? err
function shared:ttl(key) end

---Up to max keys (default 1024; 0: all), most recently used first.
---@param max? integer
---@return string[]
function shared:keys(max) end

---The capacity in bytes.
---@return integer
function shared:capacity() end

---Bytes in use (keys, values and 64 bytes per entry).
---@return integer
function shared:used() end

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
