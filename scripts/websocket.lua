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

function WebSocket:start()
  self._head = ""
  self._deadline = self.conn:after(self:option("handshake_timeout"), function()
    self:refuse(408, "handshake timeout")
  end)
end

-- refuse answers the handshake with an HTTP error and closes.
function WebSocket:refuse(status, message, headers)
  if self._upgraded or self._refused then return end
  self._refused = true
  self.conn:send(http.error_response(status, message, headers))
  self.conn:close()
end

function WebSocket:data(bytes)
  if self._refused then return end
  -- A subclass start() that forgot WebSocket.start(self) still handshakes.
  local head = (self._head or "") .. bytes
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
  self._head = nil
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
  if self._refused then return end -- authorize refused with its own response
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
  self.conn:send(ws.handshake_response(req, { protocol = protocol, extensions = extensions }))
  if self._deadline then self._deadline:cancel() end
  self._deadline = nil
  -- The request goes to open(req) and is not kept: an idle connection
  -- should cost little. Keep what you need from it in open.
  self._upgraded, self.protocol, self.extensions = true, protocol, extensions
  self.conn:upgrade("websocket", {
    max_message = self:option("max_message"),
    max_frame = self:option("max_frame"),
    ping_interval = self:option("ping_interval"),
    idle_timeout = self:option("idle_timeout"),
    deflate = deflate,
  }, head:sub(consumed + 1))
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
