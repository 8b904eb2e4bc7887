-- websocket: the WebSocket client base class. It does the opening handshake
-- in Lua with the Go helpers, then switches the connection to native
-- framing: from then on Go decodes frames and calls message(payload, kind).
--
-- Subclasses override any of:
--   authorize(req)           return false or an HTTP status to refuse (default: allow)
--   select_protocol(offered, req) return one of the offered subprotocols, or nil
--   open(req)                the handshake is done
--   message(payload, kind)   kind is "text" or "binary"
--   ping(payload), pong(payload), drain(), closed(code, reason)
-- and set options in Class.options (see WebSocket.defaults).
local FatClient = require "fatclient"
local http = require "http"
local ws = require "ws"

local WebSocket = FatClient:extend()
WebSocket.metrics_protocol = "websocket" -- the traffic metrics' label, the handshake included

WebSocket.defaults = {
  max_head = 8192,        -- bytes of request head before 431
  handshake_timeout = 10, -- seconds to complete the handshake before 408
  origins = nil,          -- list of allowed Origin values; nil allows any
  max_message = nil,      -- bytes; nil takes the server's --max-message
  max_frame = nil,        -- bytes; nil takes the server's --max-frame
  ping_interval = nil,    -- seconds between pings; nil sends none
  idle_timeout = nil,     -- seconds of silence before close 1001; nil waits for ever
  -- permessage-deflate (RFC 7692), off unless compress = true:
  compress = false,                         -- accept a client's permessage-deflate offer
  compress_min_size = 64,                   -- bytes; shorter messages go out uncompressed
  compress_level = nil,                     -- 1-9; nil: 1, or 2 with server context takeover
  compress_server_context_takeover = false, -- true: a compressor per connection (~790 KiB)
  compress_client_context_takeover = true,  -- false: answer client_no_context_takeover
  compress_client_max_window_bits = 15,     -- 8-15: cap the client's window (and our history)
}

function WebSocket:option(name)
  local opts = self.options
  local v = opts and opts[name]
  if v == nil then v = WebSocket.defaults[name] end
  return v
end

function WebSocket:authorize(req) return true end
function WebSocket:select_protocol(offered, req) return nil end
function WebSocket:open(req) end

-- The handshake's state is one key, since gopher-lua keeps every key ever
-- set on a table: _hs is the deadline timer while handshaking, false once
-- upgraded or refused. _head exists only for a head split across reads.
function WebSocket:start()
  self._hs = self.conn:after(self:option("handshake_timeout"), function()
    self:refuse(408, "handshake timeout")
  end)
end

-- refuse answers the handshake with an HTTP error and closes.
function WebSocket:refuse(status, message, headers)
  if self._hs == false then return end -- upgraded or already refused
  self._hs = false
  self.conn:send(http.error_response(status, message, headers))
  self.conn:close()
end

function WebSocket:data(bytes)
  if self._hs == false then return end -- refused
  -- A subclass start() that forgot WebSocket.start(self) still handshakes.
  local head = bytes
  if self._head then head = self._head .. bytes end
  local req, consumed, response = http.parse_request(head, self:option("max_head"))
  if not req then
    if consumed then -- refused by the parser: consumed is the status
      self.conn:send(response)
      self.conn:close()
    else
      self._head = head -- incomplete: wait for more
    end
    return
  end
  if self._head then self._head = nil end
  local ok, status, failure = ws.check(req)
  if not ok then
    self.conn:send(failure)
    self.conn:close()
    return
  end
  local origins = self:option("origins")
  if origins then
    local origin, allowed = req.headers.origin, false
    for _, o in ipairs(origins) do
      if o == origin then allowed = true break end
    end
    if not allowed then return self:refuse(403, "origin not allowed") end
  end
  local verdict = self:authorize(req)
  if self._hs == false then return end -- authorize refused with its own response
  if verdict == false then return self:refuse(403, "forbidden") end
  if type(verdict) == "number" then return self:refuse(verdict) end

  local protocol = self:select_protocol(ws.protocols(req), req)
  local extensions, deflate
  if self:option("compress") then
    extensions, deflate = ws.negotiate_deflate(req, {
      server_context_takeover = self:option("compress_server_context_takeover"),
      client_context_takeover = self:option("compress_client_context_takeover"),
      client_max_window_bits = self:option("compress_client_max_window_bits"),
    })
    if deflate then
      deflate.level = self:option("compress_level")
      deflate.min_size = self:option("compress_min_size")
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
  local max_message, max_frame = self:option("max_message"), self:option("max_frame")
  local ping_interval, idle_timeout = self:option("ping_interval"), self:option("idle_timeout")
  local opts -- nil when every option is the server's default
  if max_message ~= nil or max_frame ~= nil or ping_interval ~= nil or idle_timeout ~= nil
    or deflate ~= nil then
    opts = {
      max_message = max_message, max_frame = max_frame,
      ping_interval = ping_interval, idle_timeout = idle_timeout,
      deflate = deflate,
    }
  end
  self.conn:upgrade("websocket", opts, head:sub(consumed + 1))
  self:open(req)
end

-- send(data[, kind]): kind is "text" (default) or "binary".
function WebSocket:send(data, kind)
  return self.conn:send(data, kind or "text")
end

-- close([code[, reason]]): starts the close handshake (code defaults to 1000).
function WebSocket:close(code, reason)
  return self.conn:close(code, reason)
end

return WebSocket
