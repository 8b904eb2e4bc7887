---@meta fatclient

---The base of every client class. A class is a plain table; the server makes
---each instance as setmetatable({conn = conn}, Class). Define the events you need:
---accept(info), start(), data(bytes), message(payload, kind), drain(),
---closed(code, reason), ping(payload), pong(payload), published(topic, data, kind),
---reloaded(old_class).
---@class FatClient
---@field conn pocketlua.conn the connection
---@field super table the class this one extends
---@field accept? fun(self: FatClient, info: pocketlua.accept_info): boolean? return false to refuse before start
---@field start? fun(self: FatClient) the connection is open
---@field data? fun(self: FatClient, bytes: string) bytes arrived (raw mode)
---@field message? fun(self: FatClient, payload: string, kind: "text"|"binary") a whole WebSocket message arrived
---@field drain? fun(self: FatClient) the output queue fell below the low-water mark
---@field closed? fun(self: FatClient, code: integer?, reason: string) the connection ended
---@field ping? fun(self: FatClient, payload: string) a WebSocket ping arrived (answered already)
---@field pong? fun(self: FatClient, payload: string) a WebSocket pong arrived
---@field published? fun(self: FatClient, topic: string, data: string, kind: "text"|"binary") a message for a subscription, given to Lua instead of written
---@field reloaded? fun(self: FatClient, old_class: table) a reload moved this instance to the new class
---@field metrics_protocol? string the protocol label its traffic is counted under in --metrics (raw, websocket, http, ftp; anything else: other)
local FatClient = {}

---Makes a subclass that inherits every method.
---@generic T
---@param self T
---@param fields? table
---@return T
function FatClient:extend(fields) end

---Copies a mixin's functions into the class (those it lacks).
---@param mixin table
---@return self
function FatClient:include(mixin) end

---conn:send(data, kind).
---@param data string
---@param kind? "text"|"binary"
---@return boolean below_high_water
function FatClient:send(data, kind) end

---conn:close(code, reason).
---@param code? integer
---@param reason? string
function FatClient:close(code, reason) end

---Hands this connection to another class: same instance, new metatable,
---Class's start runs, then bytes are replayed through its data.
---@param class table
---@param bytes? string
---@return self
function FatClient:become(class, bytes) end

---path made absolute from the main script's folder; raises, naming the
---script's line, unless it is a folder.
---@param path string
---@param what string what the folder is for, in the error
---@return string
function FatClient.folder(path, what) end

---Logs one HTTP answer: with access_log on, and for 401 and 403 always.
---@param req? table
---@param status integer
---@param bytes? integer
function FatClient:log_http(req, status, bytes) end

---Calls fn(self) after seconds; cancelled if the connection ends.
---@param seconds number
---@param fn fun(self: FatClient)
---@return pocketlua.timer
function FatClient:after(seconds, fn) end

return FatClient
