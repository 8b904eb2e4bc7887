---@meta pocketlua.test

---The module of `pocketlua test`: fake connections, a virtual clock, assertions.
---@class pocketlua.test
---@field dir string the test file's folder
local t = {}

---Registers a test; names are unique in a file.
---@param name string
---@param fn fun()
function t.test(name, fn) end

---A new connection served by an instance of class: accept and start run.
---kind "websocket" also sends an opening handshake the class must accept.
---@param class table
---@param opts? {peer?: string, local_addr?: string, kind?: "raw"|"websocket", path?: string, headers?: table<string, string>}
---@return pocketlua.test.conn
function t.connect(class, opts) end

---Moves the virtual clock; due timers fire in order, each at its time.
---@param seconds number
function t.advance(seconds) end

---Seconds on the virtual clock since the test began.
---@return number
function t.now() end

---The connections server.connect made, in order.
---@return pocketlua.test.conn[]
function t.dialed() end

---What server.socket_bind and server.listen opened, in order.
---@return {host: string, port: integer, class?: table, closed: boolean}[]
function t.listeners() end

---Whether the script called server.shutdown().
---@return boolean
function t.shutdown_requested() end

---How often the script called server.reload().
---@return integer
function t.reloads() end

---A value as one line of Lua, as failure messages print it.
---@param v any
---@return string
function t.show(v) end

---Whether v is the error object of a failed assertion.
---@param v any
---@return boolean
function t.is_failure(v) end

---Fails the test here.
---@param msg any
function t.fail(msg) end

---Equal values; tables are compared by content, deeply.
---@param got any
---@param want any
---@param note? string
function t.eq(got, want, note) end

---Different values.
---@param got any
---@param other any
---@param note? string
function t.ne(got, other, note) end

---v is neither nil nor false.
---@param v any
---@param note? string
function t.ok(v, note) end

---s is a string that matches the Lua pattern.
---@param s any
---@param pattern string
---@param note? string
function t.match(s, pattern, note) end

---fn raises an error (matching pattern); returns its message.
---@param fn fun()
---@param pattern? string
---@param note? string
---@return string
function t.raises(fn, pattern, note) end

---The peer's side of a fake connection.
---@class pocketlua.test.conn
---@field instance table the instance of the class
---@field id integer
---@field peer string
---@field host? string server.connect's host
---@field port? integer server.connect's port
---@field sent string[] what the script sent, in order
---@field kinds ("raw"|"text"|"binary")[] the kind of each send
---@field pings string[] payloads of conn:ping
---@field handshake? string the handshake answer (kind "websocket")
---@field mode "raw"|"websocket"
---@field closed boolean the connection has ended
---@field close_code? integer what the script closed with (WebSocket)
---@field close_reason? string
---@field refused? boolean accept returned false
---@field paused boolean the script paused reading
---@field full? boolean set by the test: send returns false
local conn = {}

---The peer sends raw bytes.
---@param bytes string
function conn:data(bytes) end

---The peer sends a WebSocket message.
---@param payload string
---@param kind? "text"|"binary"
function conn:message(payload, kind) end

---The peer sends a ping.
---@param payload? string
function conn:ping(payload) end

---The peer sends a pong.
---@param payload? string
function conn:pong(payload) end

---The peer closes.
---@param code? integer
---@param reason? string
function conn:close(code, reason) end

---Clears full and runs drain.
function conn:drain() end

---All of sent as one string.
---@return string
function conn:output() end

---Forgets what was sent.
function conn:clear() end

---A server.connect connection connects: start runs.
function conn:connect() end

---A server.connect connection fails: closed(nil, reason) runs.
---@param reason? string
function conn:fail(reason) end

return t
