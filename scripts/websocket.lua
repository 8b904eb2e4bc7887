-- websocket: the WebSocket client base class. It does the opening handshake
-- in Lua with the Go helpers, then switches the connection to native
-- framing: from then on Go decodes frames and calls message(payload, kind).
--
-- Subclasses override any of:
--   authorize(req)           return false or an HTTP status to refuse (default: allow)
--   select_protocol(offered, req) return one of the offered subprotocols, or nil
--   open(req)                the handshake is done
--   message(payload, kind)   kind is "text" or "binary"
--   ping(payload), pong(payload), drain(), closed(code, reason),
--   published(topic, data, kind)  a subscription's message, instead of the frame
-- and set options as class fields (Class.max_message = 65536); the
-- defaults below are WebSocket's own fields.
local FatClient = require "fatclient"
local http = require "http"
local ws = require "ws"

local WebSocket = FatClient:extend()
WebSocket.metrics_protocol = "websocket" -- the traffic metrics' label, the handshake included

WebSocket.max_head = 8192        -- bytes of request head before 431
WebSocket.handshake_timeout = 10 -- seconds to complete the handshake before 408
-- Options that default to nil (so are not set here):
--   origins        list of allowed Origin values; nil allows any
--   max_message    bytes; nil takes the server's --max-message
--   max_frame      bytes; nil takes the server's --max-frame
--   ping_interval  seconds between pings; nil sends none
--   idle_timeout   seconds of silence before close 1001; nil waits for ever
--   compress_level 1-9; nil: 1, or 2 with server context takeover
-- permessage-deflate (RFC 7692), off unless compress = true:
WebSocket.compress = false                         -- accept a client's permessage-deflate offer
WebSocket.compress_min_size = 64                   -- bytes; shorter messages go out uncompressed
WebSocket.compress_server_context_takeover = false -- true: a compressor per connection (~790 KiB)
WebSocket.compress_client_context_takeover = true  -- false: answer client_no_context_takeover
WebSocket.compress_client_max_window_bits = 15     -- 8-15: cap the client's window (and our history)

-- opt is self:option(name) with the deprecated options table already
-- read: the handshake reads a dozen options, and each self.options that
-- is not there walks the whole class chain.
local function opt(self, opts, name)
  if opts ~= nil then
    local v = opts[name]
    if v ~= nil then return v end
  end
  return self[name]
end

-- self:option(name) reads an option: the deprecated Class.options table's
-- entry when there is one, else the class field. Class.options works for
-- this release only; the first connection of each class using it logs a
-- warning.
function WebSocket:option(name)
  return opt(self, self.options, name)
end

-- warn_options logs once per class that defines options (the class itself,
-- or the ancestor self inherits options from); the mark is a field on that
-- class, so a reloaded class warns again.
local function warn_options(self)
  local class = getmetatable(self)
  while class ~= nil and rawget(class, "options") == nil do class = getmetatable(class) end
  if class == nil or rawget(class, "_options_warned") then return end
  rawset(class, "_options_warned", true)
  local keys = {}
  for k in pairs(class.options) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  log.warn("websocket: Class.options is deprecated and goes in the next release; set each option as a class field (Class.max_message = 65536)",
    "options", table.concat(keys, ","))
end

-- The request being answered, for refuse's log line: set only inside
-- data(), so no key on the instance (a refusal from a timer logs "-").
local handshake_req

function WebSocket:authorize(req) return true end
-- The default answers nil whatever is offered: data() builds no list for it.
local function no_protocol(self, offered, req) return nil end
WebSocket.select_protocol = no_protocol
function WebSocket:open(req) end

-- The handshake's state is one key, since gopher-lua keeps every key ever
-- set on a table: _hs is the deadline timer while handshaking, false once
-- upgraded or refused. _head exists only for a head split across reads.
function WebSocket:start()
  local opts = self.options
  if opts ~= nil then warn_options(self) end
  self._hs = self.conn:after(opt(self, opts, "handshake_timeout"), function()
    handshake_req = nil
    self:refuse(408, "handshake timeout")
  end)
end

-- refuse answers the handshake with an HTTP error and closes.
function WebSocket:refuse(status, message, headers)
  if self._hs == false then return end -- upgraded or already refused
  self._hs = false
  local response = http.error_response(status, message, headers)
  self.conn:send(response)
  self:log_http(handshake_req, status, #response)
  handshake_req = nil
  self.conn:close()
end

function WebSocket:data(bytes)
  if self._hs == false then return end -- refused
  -- A subclass start() that forgot WebSocket.start(self) still handshakes.
  local opts = self.options
  local head, partial = bytes, self._head
  if partial then head = partial .. bytes end
  local req, consumed, response = http.parse_request(head, opts == nil and self.max_head or opt(self, opts, "max_head"))
  if not req then
    if consumed then -- refused by the parser: consumed is the status
      self.conn:send(response)
      self:log_http(nil, consumed, #response)
      self.conn:close()
    else
      self._head = head -- incomplete: wait for more
    end
    return
  end
  if partial then self._head = nil end
  if opts ~= nil then warn_options(self) end -- also when a subclass start skipped ours
  local ok, status, failure = ws.check(req)
  if not ok then
    self.conn:send(failure)
    self:log_http(req, status, #failure)
    self.conn:close()
    return
  end
  handshake_req = req
  local origins
  if opts == nil then origins = self.origins else origins = opt(self, opts, "origins") end
  if origins then
    local origin, allowed = req.headers.origin, false
    for _, o in ipairs(origins) do
      if o == origin then allowed = true break end
    end
    if not allowed then return self:refuse(403, "origin not allowed") end
  end
  local verdict = self:authorize(req)
  if self._hs == false then return end -- authorize refused with its own response
  if verdict ~= true then
    if verdict == false then return self:refuse(403, "forbidden") end
    if type(verdict) == "number" then return self:refuse(verdict) end
  end

  local select_protocol, protocol = self.select_protocol, nil
  if select_protocol ~= no_protocol then
    protocol = select_protocol(self, ws.protocols(req), req)
  end
  local extensions, deflate
  local compress
  if opts == nil then compress = self.compress else compress = opt(self, opts, "compress") end
  if compress then
    extensions, deflate = ws.negotiate_deflate(req, {
      server_context_takeover = opt(self, opts, "compress_server_context_takeover"),
      client_context_takeover = opt(self, opts, "compress_client_context_takeover"),
      client_max_window_bits = opt(self, opts, "compress_client_max_window_bits"),
    })
    if deflate then
      deflate.level = opt(self, opts, "compress_level")
      deflate.min_size = opt(self, opts, "compress_min_size")
    end
  end
  local answer -- no table when there is nothing to add (most handshakes)
  if protocol ~= nil or extensions ~= nil then answer = { protocol = protocol, extensions = extensions } end
  self.conn:send(ws.handshake_response(req, answer))
  local deadline = self._hs
  if deadline then deadline:cancel() end
  -- The request goes to open(req) and is not kept: an idle connection
  -- should cost little. Keep what you need from it in open.
  self._hs, self.protocol, self.extensions = false, protocol, extensions
  handshake_req = nil
  self:log_http(req, 101, 0)
  local max_message, max_frame, ping_interval, idle_timeout
  if opts == nil then -- constant keys: the VM's cheaper lookup
    max_message, max_frame = self.max_message, self.max_frame
    ping_interval, idle_timeout = self.ping_interval, self.idle_timeout
  else
    max_message, max_frame = opt(self, opts, "max_message"), opt(self, opts, "max_frame")
    ping_interval, idle_timeout = opt(self, opts, "ping_interval"), opt(self, opts, "idle_timeout")
  end
  local upgrade -- nil when every option is the server's default
  if max_message ~= nil or max_frame ~= nil or ping_interval ~= nil or idle_timeout ~= nil
    or deflate ~= nil then
    upgrade = {
      max_message = max_message, max_frame = max_frame,
      ping_interval = ping_interval, idle_timeout = idle_timeout,
      deflate = deflate,
    }
  end
  self.conn:upgrade("websocket", upgrade, consumed < #head and head:sub(consumed + 1) or nil)
  self:open(req)
end

-- send(data[, kind]): kind is "text" (default) or "binary". A nil data or
-- an unknown kind is reported at the caller's line (level 2), not at this
-- battery's; the check costs two comparisons on the echo path.
function WebSocket:send(data, kind)
  if data == nil or (kind ~= nil and kind ~= "text" and kind ~= "binary") then
    if data == nil then
      error("bad argument #1 to 'send' (string expected, got nil)", 2)
    end
    error("bad argument #2 to 'send' (invalid option '" .. tostring(kind) .. "')", 2)
  end
  return self.conn:send(data, kind or "text")
end

-- close([code[, reason]]): starts the close handshake (code defaults to 1000).
function WebSocket:close(code, reason)
  return self.conn:close(code, reason)
end

return WebSocket
