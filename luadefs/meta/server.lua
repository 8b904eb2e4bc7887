---@meta server

---The engine as scripts see it: listeners, outbound connections, the
---connection table, timers, state kept across reloads.
---@class pocketlua.server
---@field log pocketlua.log the log module
local server = {}

---Opens a listener whose connections get class (the main class when nil).
---@param host? string default 127.0.0.1
---@param port? integer default 0: a free port
---@param class? table
---@param opts? {tls?: boolean} tls: serve TLS beside plaintext (needs --tls-cert)
---@return pocketlua.listener listener
---@return string host
---@return integer port
function server.socket_bind(host, port, class, opts) end

---server.socket_bind with named options.
---@param opts {host?: string, port?: integer, class?: table, tls?: boolean}
---@return pocketlua.listener listener
---@return string host
---@return integer port
function server.listen(opts) end

---Starts an outbound TCP connection served by class; start runs once connected,
---closed(nil, reason) if it fails. Returns the instance, or nil and an error.
---@param host string
---@param port integer
---@param class table
---@param opts? {connect_timeout?: number, tls?: boolean, server_name?: string, ca?: string, cert?: string, key?: string, insecure?: boolean}
---@return table? instance
---@return string? err
function server.connect(host, port, class, opts) end

---The instances of the open connections.
---@return table[]
function server.connections() end

---How many connections are open.
---@return integer
function server.count() end

---Sends to every connection: raw data to raw ones, a message to WebSocket ones; returns how many.
---@param data string
---@param except? table|pocketlua.conn a connection or instance to skip
---@param kind? "text"|"binary"|"raw"
---@return integer sent
function server.broadcast(data, except, kind) end

---Delivers data to every subscriber of topic in every worker (and, with
---broker, every process); raises on a bad topic or over --max-publish.
---@param topic string a concrete topic, no wildcard
---@param data string
---@param kind? "text"|"binary" the WebSocket frame kind (default "text")
---@param except? table|pocketlua.conn a connection or instance to leave out
function server.publish(topic, data, kind, except) end

---A dictionary shared by every worker of the process, made with capacity
---bytes (default 1 MiB) on first use; it survives reloads. Raises for a
---name not 1-255 bytes, or past --shared-max-dicts dictionaries (64).
---@param name string
---@param capacity? integer
---@return pocketlua.shared
function server.shared(name, capacity) end

---Calls fn(state) on this worker at each change of the broker's state
---("connecting", "up", "down"); with no --broker it is never called.
---@param fn fun(state: "connecting"|"up"|"down")
function server.on_broker(fn) end

---Counts the subscriptions to exactly topic over every process on the
---broker (this process alone without one) and calls fn(count, nodes) in a
---later round, nodes being the ids of the processes that hold any.
---Raises when 256 queries wait for the broker already.
---@param topic string
---@param fn fun(count: integer, nodes: string[])
function server.presence(topic, fn) end

---How many subscriptions this process holds to exactly topic (a topic or pattern).
---@param topic string
---@return integer
function server.subscribers(topic) end

---Calls fn once after seconds.
---@param seconds number
---@param fn fun()
---@return pocketlua.timer
function server.after(seconds, fn) end

---Calls fn every seconds until cancelled.
---@param seconds number
---@param fn fun()
---@return pocketlua.timer
function server.every(seconds, fn) end

---Counters of this worker: connections, accepted, bytes_in, lua_errors, ...
---@return table<string, number>
function server.stats() end

---The script version: 1, then one more per successful reload.
---@return integer
function server.version() end

---Starts a graceful shutdown.
function server.shutdown() end

---The named table shared across reloads, made from default on first use.
---@param name string
---@param default? table
---@return table
function server.state(name, default) end

---Reloads the scripts after the running handler returns.
function server.reload() end

---True when a certificate is configured (--tls-cert): conn:start_tls
---can work.
---@return boolean
function server.has_tls() end

---The absolute folder of the main script: relative paths a script names
---(roots, files) are taken from here.
---@return string
function server.script_dir() end

---Also reload (under --watch) when this file changes; only the main chunk
---may call it.
---@param path string
function server.watch(path) end

return server
