-- httpd: an HTTP/1.1 server class. Static files from a folder, routes to
-- Lua functions, keep-alive and pipelining, request bodies (Content-Length
-- and chunked), WebSocket hand-off. Its require name is "httpd" because
-- "http" is the Go helper module.
--
--   local Httpd = require "httpd"
--   local Site = Httpd:extend{ root = "www", routes = {
--     ["GET /api/time"] = function(req, res) return 200, os.date() end,
--   } }
--   return Site
--
-- Options are class fields (see the list below); a subclass overrides them.
-- A subclass that defines start, data, drain or closed calls
-- Httpd.start(self) (and so on) in it.
local FatClient = require "fatclient"
local http = require "http"
local fs = require "fs"
local json = require "json"
local metrics = require "metrics"

local Httpd = FatClient:extend()

Httpd.root = nil              -- folder of static files (relative: to the script's folder); nil: routes only
Httpd.index = "index.html"    -- served for a folder
Httpd.routes = nil            -- { ["GET /path"] = function(req, res) | Class }
Httpd.websocket = nil         -- class that gets any "Upgrade: websocket" request
Httpd.max_head = 8192         -- request line + headers, bytes; more gives 431
Httpd.max_uri = 4096          -- request target, bytes; longer gives 414
Httpd.max_body = 1048576      -- request body, bytes; larger gives 413
Httpd.keepalive_timeout = 15  -- seconds an idle connection waits for a request
Httpd.request_timeout = 30    -- seconds from a request's first byte to its end; then 408
Httpd.chunk_size = 65536      -- bytes read from a file per send
Httpd.max_pipeline = 16       -- pipelined requests answered per turn of the loop; then reading waits
Httpd.precompressed = true    -- send file.br / file.gz beside file when the client accepts it
Httpd.compress = false        -- gzip route responses (compressible types, compress_min bytes or more)
Httpd.compress_min = 1024     -- smallest body compress gzips, bytes
Httpd.compress_types = { "^text/", "^application/json", "^application/javascript",
  "^application/xml", "%+json$", "%+xml$", "^application/wasm$" } -- Lua patterns on the media type
Httpd.cache_control = nil     -- "max-age=60", or { ["/assets/"] = "max-age=31536000, immutable", ["/"] = "no-cache" }
Httpd.dotfiles = false        -- serve names that start with "."
Httpd.access_log = false      -- log.info one line per response
Httpd.server_name = "pocketlua"
Httpd.metrics_protocol = "http" -- the traffic metrics' protocol label
Httpd.https_redirect = false  -- plaintext requests get 308 to https:// (the engine terminates TLS: --tls-cert)
Httpd.hsts_max_age = 31536000 -- with https_redirect: Strict-Transport-Security on https responses (0: none)

Httpd.types = {
  html = "text/html; charset=utf-8", htm = "text/html; charset=utf-8",
  css = "text/css; charset=utf-8", js = "text/javascript; charset=utf-8",
  mjs = "text/javascript; charset=utf-8", json = "application/json",
  txt = "text/plain; charset=utf-8", md = "text/markdown; charset=utf-8",
  csv = "text/csv; charset=utf-8", xml = "application/xml",
  svg = "image/svg+xml", png = "image/png", jpg = "image/jpeg", jpeg = "image/jpeg",
  gif = "image/gif", webp = "image/webp", ico = "image/x-icon", avif = "image/avif",
  wasm = "application/wasm", pdf = "application/pdf", zip = "application/zip",
  gz = "application/gzip", tar = "application/x-tar",
  woff = "font/woff", woff2 = "font/woff2", ttf = "font/ttf", otf = "font/otf",
  mp3 = "audio/mpeg", ogg = "audio/ogg", wav = "audio/wav",
  mp4 = "video/mp4", webm = "video/webm",
}
Httpd.default_type = "application/octet-stream"

local warned_no_tls = false -- https_redirect without --tls-cert, logged once
local NO_BODY = { [204] = true, [304] = true }

---------------------------------------------------------------------------
-- helpers

-- has_token reports whether a comma-separated header value lists token
-- (case-insensitive).
local function has_token(value, token)
  if not value then return false end
  for item in value:lower():gmatch("[^,]+") do
    if item:match("^%s*(.-)%s*$") == token then return true end
  end
  return false
end

-- accepts reports whether an Accept-Encoding value allows coding: listed
-- with a q above 0, or covered by "*" (RFC 9110 §12.5.3).
local function accepts(value, coding)
  if not value then return false end
  local star
  for item in value:lower():gmatch("[^,]+") do
    local name, params = item:match("^%s*([^;%s]+)%s*(.-)%s*$")
    local q = tonumber(params and params:match("q%s*=%s*([%d.]+)") or "1") or 0
    if name == coding then return q > 0 end
    if name == "*" then star = q > 0 end
  end
  return star == true
end

-- etag_matches reports whether an If-None-Match list names etag (weak
-- comparison, RFC 9110 §13.1.2) or is "*".
local function etag_matches(list, etag)
  local want = etag:gsub("^W/", "")
  for tag in list:gmatch("[^,]+") do
    tag = tag:match("^%s*(.-)%s*$"):gsub("^W/", "")
    if tag == want or tag == "*" then return true end
  end
  return false
end

-- body_bytes is the length of a whole response's body (after the head).
local function body_bytes(response)
  local e = response:find("\r\n\r\n", 1, true)
  return e and #response - e - 3 or 0
end

local function clean_value(v)
  return (tostring(v):gsub("[\r\n%z]", " "))
end

local date_cache_t, date_cache = -1, ""
local function now_date()
  local t = os.time()
  if t ~= date_cache_t then date_cache_t, date_cache = t, http.date(t) end
  return date_cache
end

-- Httpd.decode(s): percent-decoding ("+" stays "+").
function Httpd.decode(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- Httpd.parse_query(q): "a=1&b=x%20y" -> { a = "1", b = "x y" }; "+" is a space.
function Httpd.parse_query(q)
  local t = {}
  for pair in (q or ""):gmatch("[^&]+") do
    local k, v = pair:match("^([^=]*)=?(.*)$")
    k, v = Httpd.decode((k:gsub("+", " "))), Httpd.decode((v:gsub("+", " ")))
    if t[k] == nil then t[k] = v end
  end
  return t
end

-- Httpd:extend{root = ...} checks the root now, taking a relative one
-- from the main script's folder: a wrong root fails the load, not every
-- request.
function Httpd:extend(fields)
  if fields and fields.root ~= nil then fields.root = FatClient.folder(fields.root, "httpd root") end
  return FatClient.extend(self, fields)
end

-- Class:route(method, pattern, fn): fn(req, res) serves the requests whose
-- path matches the Lua pattern (anchored at both ends); its captures are in
-- req.params. method "*" matches any method. Exact paths go in Class.routes.
function Httpd:route(method, pattern, fn)
  local own = rawget(self, "patterns")
  if not own then
    own = {}
    for i, r in ipairs(self.patterns or {}) do own[i] = r end -- inherited ones first
    self.patterns = own
  end
  own[#own + 1] = { method = method, pattern = "^" .. pattern .. "$", fn = fn }
  return self
end

-- checked_response turns what a handler gave into status, body text and
-- the Content-Type it implies, or nil and why it cannot be sent. A string
-- alone is a 200 body; a table body is sent as JSON.
local function checked_response(status, body, headers)
  if type(status) == "string" and body == nil then
    status, body = 200, status
  end
  if type(status) ~= "number" or status ~= math.floor(status) or status < 100 or status > 599 then
    return nil, "status must be a number from 100 to 599, got " .. type(status) .. " " .. tostring(status)
  end
  if headers ~= nil and type(headers) ~= "table" then
    return nil, "headers must be a table, got " .. type(headers)
  end
  local bt = type(body)
  if body == nil then return status, "", nil end
  if bt == "string" or bt == "number" then return status, tostring(body), "text/plain; charset=utf-8" end
  if bt == "table" then
    local ok, text = pcall(json.encode, body)
    if not ok then return nil, "table body cannot be sent as JSON: " .. tostring(text) end
    return status, text, "application/json"
  end
  return nil, "body must be a string, a number or a table (sent as JSON), got " .. bt
end

---------------------------------------------------------------------------
-- the response object handed to route handlers

local Response = {}
Response.__index = Response

-- res:header(name, value) adds a response header (before send).
function Response:header(name, value)
  self.headers[name] = value
  return self
end

-- res:etag(tag) sets the response's ETag (quoted if it is not) and, when
-- the request's If-None-Match names it, answers 304 at once: true then,
-- and the handler returns without a body.
function Response:etag(tag)
  tag = tostring(tag)
  if not tag:match('^W?/?".*"$') then tag = '"' .. tag .. '"' end
  self.headers.ETag = tag
  local inm = self.req.headers["if-none-match"]
  if inm and (self.req.method == "GET" or self.req.method == "HEAD") and etag_matches(inm, tag) then
    self:send(304)
    return true
  end
  return false
end

-- res:defer() tells the server the handler answers later with res:send.
function Response:defer() self.deferred = true end

-- res:send(status[, body[, headers]]) answers the request, once.
function Response:send(status, body, headers)
  if self.sent then return false end
  self.sent = true
  local client = self.client
  if client._req ~= self.req or not client.conn:is_open() then return false end
  local content_type
  status, body, content_type = checked_response(status, body, headers)
  if not status then
    log.error("http handler gave an unusable response; answering 500", "route", self.route,
      "method", self.req.method, "path", self.req.path, "err", body)
    client:error(self.req, 500)
    return true
  end
  for k, v in pairs(headers or {}) do self.headers[k] = v end
  local has_type = false
  for k in pairs(self.headers) do
    if tostring(k):lower() == "content-type" then has_type = true end
  end
  if not has_type and body ~= "" then self.headers["Content-Type"] = content_type end
  client:reply(self.req, status, self.headers, body)
  return true
end

---------------------------------------------------------------------------
-- connection life

function Httpd:start()
  self._buf = ""
  self._state = "head"
  self._started = false
  self:_arm(self.keepalive_timeout)
end

function Httpd:data(bytes)
  if not self._state then Httpd.start(self) end
  local buf = self._buf
  self._buf = buf == "" and bytes or buf .. bytes
  if self._state == "busy" then
    -- A response is on its way; later requests wait their turn. Stop
    -- reading once enough of them queued up.
    if #self._buf > self.max_head + self.chunk_size then
      self._paused = true
      self.conn:pause()
    end
    return
  end
  self:_process()
end

function Httpd:drain()
  if self._stream then self:_pump() end
end

function Httpd:closed()
  local s = self._stream
  if s then
    self._stream = nil
    s.file:close()
  end
  self._state = "gone"
  self._buf = ""
end

-- _arm (re)starts the connection's one deadline: idle wait, request
-- arrival, or a response that stopped moving.
function Httpd:_arm(seconds)
  if self._timer then self._timer:cancel() end
  self._timer = self.conn:after(seconds, function() self:_timeout() end)
end

function Httpd:_timeout()
  self._timer = nil
  local st = self._state
  if st == "busy" then
    local s = self._stream
    if s then -- a streamed file: give up only if not one byte moved in a whole period
      local mark = s.left .. ":" .. self.conn:buffered()
      if mark == self._progress then
        log.warn("http response stalled; closing", "peer", self.conn.peer, "path", s.req.path,
          "left", s.left, "queued", self.conn:buffered())
        return self.conn:close(nil, "response stalled")
      end
      self._progress = mark
    end
    return self:_arm(self.request_timeout)
  end
  if st == "head" and self._buf == "" then
    return self.conn:close(nil, "idle")
  end
  if st == "head" or st == "body" or st == "chunked" then
    self:_fail(408, "request timeout")
  end
end

-- _fail answers with an error and closes: the stream's framing is lost or
-- the request is refused outright.
function Httpd:_fail(status, message, response)
  self._state = "gone"
  self._buf = ""
  response = response or http.error_response(status, message)
  self.conn:send(response)
  self:_log(self._req, status, body_bytes(response))
  self.conn:close()
end

---------------------------------------------------------------------------
-- reading requests

function Httpd:_process()
  if self._processing then return end
  self._processing = true
  self._round = 0
  while self.conn:is_open() and self:_step() do
    if self._round >= self.max_pipeline and self._buf ~= "" then
      -- Enough pipelined requests answered in one go: let the loop serve
      -- others and stop reading; the rest waits for the next turn.
      self._paused = true
      self.conn:pause()
      self._later = self.conn:after(0, function()
        self._later = nil
        self:_process()
      end)
      self._processing = false
      return
    end
  end
  self._processing = false
  -- reading was held for a response: go on once we wait for input again
  if self._paused and not self._later and self._state ~= "busy" and self._state ~= nil then
    self._paused = false
    self.conn:resume()
  end
end

-- _step advances the parser by one stage; true to go on.
function Httpd:_step()
  local st = self._state
  if st == "head" then return self:_read_head() end
  if st == "body" then return self:_read_body() end
  if st == "chunked" then return self:_read_chunked() end
  return false
end

function Httpd:_read_head()
  local buf = self._buf
  local skip = buf:match("^[\r\n]+") -- empty lines between requests (RFC 9112 §2.2)
  if skip then buf = buf:sub(#skip + 1); self._buf = buf end
  if buf == "" then return false end
  if not self._started then
    self._started = true
    self:_arm(self.request_timeout)
  end
  -- 414 before 431: look at the request line alone.
  local eol = buf:find("\n", 1, true)
  local line = buf:sub(1, (eol or #buf + 1) - 1)
  local target = line:match("^%S+ (%S*)") or ""
  if #target > self.max_uri or (not eol and #line > self.max_uri + 32) then
    self:_fail(414, "request target longer than " .. self.max_uri .. " bytes")
    return false
  end
  -- The head's framing (RFC 9112) is checked in Go: bad heads come back
  -- as a status and a ready response.
  local req, n, response = http.parse_request(buf, self.max_head)
  if not req then
    if n then self:_fail(n, nil, response) end
    return false
  end
  self._buf = buf:sub(n + 1)
  return self:_begin(req, buf)
end

-- _begin takes a parsed head: hand-off, framing checks, then the body.
-- raw is the buffer from the start of this request.
function Httpd:_begin(req, raw)
  local h = req.headers
  self._req = req
  req.client = self
  req.body = ""
  -- req.keep comes from the parser: the version, Connection, and false
  -- after an ambiguous framing (Content-Length with Transfer-Encoding),
  -- which must close after its response (RFC 9112 §6.1).
  req.scheme = self.conn.tls and "https" or "http"
  if self.https_redirect and not self.conn.tls and not server.has_tls() then
    -- Sending clients to a port that cannot speak TLS would strand them.
    if not warned_no_tls then
      warned_no_tls = true
      log.warn("httpd: https_redirect is set but no certificate is configured (--tls-cert); serving plaintext requests without the redirect")
    end
  elseif self.https_redirect and not self.conn.tls then
    local host = h.host
    if not host or not host:match("^[%w%.%-:%[%]]+$") then return self:_fail(400, "Host header required") end
    self:reply(req, 308, { Location = "https://" .. host .. req.target }, "", true)
    return false
  end

  -- A route to a class, or an upgrade to WebSocket, hands the connection over.
  local routes = self.routes
  local target = routes and routes[req.method .. " " .. req.path]
  if type(target) ~= "table" and has_token(h.upgrade, "websocket") then target = self.websocket end
  if type(target) == "table" then
    self:_handoff(target, raw)
    return false
  end

  -- The parser has checked the framing: a body is chunked (that wins
  -- over Content-Length), has req.length bytes, or is absent.
  if req.chunked then
    self._parts, self._chunked = {}, http.chunked(self.max_body, self.max_head)
    self._state = "chunked"
  elseif req.length then
    if req.length > self.max_body then
      return self:_fail(413, "request body larger than " .. self.max_body .. " bytes")
    end
    self._parts, self._need = {}, req.length
    self._state = "body"
  else
    return self:_dispatch(req)
  end
  local expect = h.expect
  if expect then
    if expect:lower() ~= "100-continue" then return self:_fail(417, "unsupported Expect") end
    if req.version ~= "HTTP/1.0" and self._buf == "" then
      self.conn:send("HTTP/1.1 100 Continue\r\n\r\n")
    end
  end
  return true
end

function Httpd:_read_body()
  local buf, need = self._buf, self._need
  if need > 0 then
    if buf == "" then return false end
    local take = math.min(need, #buf)
    self._parts[#self._parts + 1] = take == #buf and buf or buf:sub(1, take)
    self._buf = take == #buf and "" or buf:sub(take + 1)
    need = need - take
    self._need = need
    if need > 0 then return false end
  end
  return self:_body_done()
end

function Httpd:_read_chunked()
  local buf = self._buf
  if buf == "" then return false end
  local data, rest, done = self._chunked:feed(buf)
  if not data then return self:_fail(rest, nil, done) end -- nil, status, response
  if data ~= "" then self._parts[#self._parts + 1] = data end
  self._buf = rest
  if not done then return false end
  self._chunked = nil
  return self:_body_done()
end

function Httpd:_body_done()
  local req = self._req
  req.body = table.concat(self._parts)
  self._parts, self._need = nil, nil
  return self:_dispatch(req)
end

function Httpd:_handoff(Class, raw)
  if self._timer then self._timer:cancel() end
  if self._paused then self.conn:resume() end
  -- the instance goes on as Class: leave none of our state on it
  self._timer, self._state, self._buf, self._req, self._paused, self._started = nil, nil, nil, nil, nil, nil
  if self.access_log then self.access_log = true end -- the new class logs its answer too
  self:become(Class, raw)
end

---------------------------------------------------------------------------
-- answering

-- _dispatch picks the handler: an exact route, a pattern route, then the
-- static files. True when the connection is ready for the next request.
function Httpd:_dispatch(req)
  self._state = "busy"
  self._round = (self._round or 0) + 1
  if self._timer then self._timer:cancel(); self._timer = nil end
  local method, path = req.method, req.path
  local fn, allow, caps, route = self:_find_route(method, path)
  if fn then
    req.params = caps or {}
    self:_call(fn, req, route)
  elseif allow then
    if method == "OPTIONS" then
      self:reply(req, 204, { Allow = allow }, "")
    else
      self:error(req, 405, nil, { Allow = allow })
    end
  elseif self.root then
    self:_static(req)
  else
    self:error(req, 404)
  end
  return self._state == "head"
end

-- _find_route returns the handler for method and path (with its captures
-- and the route's name for the log), or nil and the methods the path has
-- routes for (for 405 and Allow).
function Httpd:_find_route(method, path)
  local routes, patterns = self.routes, self.patterns
  local allowed
  local function allow(m)
    allowed = allowed or {}
    allowed[m] = true
    if m == "GET" then allowed.HEAD = true end
  end
  if routes then
    local key = method .. " " .. path
    local fn = routes[key]
    if fn == nil and method == "HEAD" then key = "GET " .. path; fn = routes[key] end
    if type(fn) == "function" then return fn, nil, nil, key end
    for key in pairs(routes) do
      local m, p = key:match("^(%S+) (.*)$")
      if p == path then allow(m) end
    end
  end
  if patterns then
    for _, r in ipairs(patterns) do
      local caps = { path:match(r.pattern) }
      if caps[1] ~= nil then
        if r.method == "*" or r.method == method or (method == "HEAD" and r.method == "GET") then
          if #caps == 1 and caps[1] == path and not r.pattern:find("%(") then caps = {} end
          return r.fn, nil, caps, r.method .. " " .. r.pattern
        end
        allow(r.method)
      end
    end
  end
  if not allowed then return nil end
  local list = {}
  for m in pairs(allowed) do list[#list + 1] = m end
  table.sort(list)
  return nil, table.concat(list, ", ")
end

function Httpd:_call(fn, req, route)
  local res = setmetatable({ client = self, req = req, headers = {}, route = route }, Response)
  local ok, status, body, headers = pcall(fn, req, res)
  if not ok then
    log.error("http handler failed", "route", route, "method", req.method, "path", req.path, "err", tostring(status))
    if not res.sent then res.sent = true; self:error(req, 500) end
  elseif res.sent then
    return
  elseif status ~= nil then
    res:send(status, body, headers)
  elseif not res.deferred then
    log.warn("http handler returned no response", "route", route, "method", req.method, "path", req.path)
    res.sent = true
    self:error(req, 500, "handler returned no response")
  end
end

-- reply(req, status, headers, body[, close]) sends a whole response and
-- goes on with the next request (or closes).
function Httpd:reply(req, status, headers, body, close)
  local keep = req.keep and not close
  body = body or ""
  if self.compress and headers and status >= 200 and status < 300 and status ~= 204 and status ~= 206
    and #body >= self.compress_min then
    body = self:_compress(req, headers, body)
  end
  local len = #body
  if NO_BODY[status] or status < 200 then len, body = nil, "" end
  if req.method == "HEAD" then body = "" end
  self.conn:send(self:_head(req, status, headers, len, keep) .. body)
  self:_log(req, status, #body)
  self:_finish(keep)
end

-- header_key returns the key under which headers holds name (any case).
local function header_key(headers, name)
  for k in pairs(headers) do
    if tostring(k):lower() == name then return k end
  end
end

-- _compress gzips a route's body when its type is compressible and the
-- client accepts gzip; the response then varies by Accept-Encoding and its
-- ETag, if any, becomes weak (the bytes differ from the plain body's).
function Httpd:_compress(req, headers, body)
  if header_key(headers, "content-encoding") then return body end
  local ct = headers[header_key(headers, "content-type") or "Content-Type"]
  local media = ct and tostring(ct):match("^%s*([^;%s]+)")
  if not media then return body end
  media = media:lower()
  local compressible = false
  for _, p in ipairs(self.compress_types) do
    if media:find(p) then compressible = true break end
  end
  if not compressible then return body end
  local vk = header_key(headers, "vary")
  if not vk then
    headers.Vary = "Accept-Encoding"
  elseif not tostring(headers[vk]):lower():find("accept-encoding", 1, true) then
    headers[vk] = headers[vk] .. ", Accept-Encoding"
  end
  if not accepts(req.headers["accept-encoding"], "gzip") then return body end
  local z = http.gzip(body)
  if #z >= #body then return body end
  headers["Content-Encoding"] = "gzip"
  local ek = header_key(headers, "etag")
  if ek and not tostring(headers[ek]):match("^W/") then headers[ek] = "W/" .. headers[ek] end
  return z
end

-- _cache_control is the cache_control option's value for path: the
-- string, or the value of the longest prefix of path in the table.
function Httpd:_cache_control(path)
  local cc = self.cache_control
  if type(cc) ~= "table" then return cc end
  local best, value = -1, nil
  for prefix, v in pairs(cc) do
    if #prefix > best and path:sub(1, #prefix) == prefix then best, value = #prefix, v end
  end
  return value
end

local CACHEABLE = { [200] = true, [203] = true, [206] = true, [304] = true }

-- error(req, status[, message[, headers]]) answers with a one-line text
-- body, keeping the connection.
function Httpd:error(req, status, message, headers)
  local h = { ["Content-Type"] = "text/plain; charset=utf-8" }
  for k, v in pairs(headers or {}) do h[k] = v end
  self:reply(req, status, h, (message or http.status_text(status)) .. "\n")
end

function Httpd:_head(req, status, headers, length, keep)
  local out = { "HTTP/1.1 ", status, " ", http.status_text(status), "\r\nDate: ", now_date(),
    "\r\nServer: ", self.server_name, "\r\n" }
  local names = {}
  for k in pairs(headers or {}) do
    local lk = tostring(k):lower()
    if lk ~= "content-length" and lk ~= "connection" and lk ~= "date" and lk ~= "server"
      and lk ~= "transfer-encoding" and tostring(k):match("^[%w!#$%%&'*+%-.^_`|~]+$") then
      names[#names + 1] = k
    end
  end
  table.sort(names)
  for _, k in ipairs(names) do
    out[#out + 1] = k .. ": " .. clean_value(headers[k]) .. "\r\n"
  end
  if self.cache_control and CACHEABLE[status] and not (headers and header_key(headers, "cache-control")) then
    local cc = self:_cache_control(req.path or "/")
    if cc then out[#out + 1] = "Cache-Control: " .. clean_value(cc) .. "\r\n" end
  end
  if self.https_redirect and self.hsts_max_age > 0 and self.conn.tls then
    out[#out + 1] = "Strict-Transport-Security: max-age=" .. math.floor(self.hsts_max_age) .. "\r\n"
  end
  if length then out[#out + 1] = "Content-Length: " .. length .. "\r\n" end
  if not keep then
    out[#out + 1] = "Connection: close\r\n"
  elseif req.version == "HTTP/1.0" then
    out[#out + 1] = "Connection: keep-alive\r\n"
  end
  out[#out + 1] = "\r\n"
  return table.concat(out)
end

-- _finish ends a response: the next request, or close.
function Httpd:_finish(keep)
  self._req = nil
  if not keep then
    self._state = "gone"
    return self.conn:close()
  end
  if not self.conn:is_open() then return end
  self._state = "head"
  self._started = false
  self:_arm(self.keepalive_timeout)
  if not self._processing then self:_process() end
end

-- _log writes the access line (FatClient.log_http).
function Httpd:_log(req, status, bytes)
  metrics.http_response(status) -- once per response, for pocketlua_http_responses_total
  self:log_http(req, status, bytes)
end

---------------------------------------------------------------------------
-- static files

-- clean_segments turns a request path into safe path segments, or nil and
-- why: no "..", no encoded "/" or "\", no NUL or control bytes.
local function clean_segments(req)
  local raw = (req.target:match("^[^?#]*") or ""):lower()
  if raw:find("%2f", 1, true) or raw:find("%5c", 1, true) or raw:find("%00", 1, true) then
    return nil, "encoded separator in path"
  end
  local path = req.path
  if path:sub(1, 1) ~= "/" then return nil, "path must start with /" end
  if path:find("[%z\1-\31\127\\]") then return nil, "bad character in path" end
  local segs = {}
  for seg in path:gmatch("[^/]+") do
    if seg == ".." then return nil, "'..' in path" end
    if seg ~= "." then segs[#segs + 1] = seg end
  end
  return segs
end

-- inside reports whether the real path p is root or below it.
local function inside(p, root)
  if root == "/" then return true end
  return p == root or p:sub(1, #root + 1) == root .. "/"
end

-- _resolve maps segments to a real path inside the root: the path, its
-- stat, or nil and an HTTP status.
function Httpd:_resolve(segs)
  local root = self.root
  if root:sub(1, 1) ~= "/" then root = server.script_dir() .. "/" .. root end -- set after extend
  root = fs.realpath(root)
  if not root then
    log.warn("http root folder missing", "root", self.root)
    return nil, 404
  end
  local real, _, code = fs.realpath(root .. "/" .. table.concat(segs, "/"))
  if not real then return nil, (code == "EACCES" and 403 or 404) end
  if not inside(real, root) then return nil, 403 end -- a symlink out of the root
  local st = fs.stat(real)
  if not st then return nil, 404 end
  return real, st
end

function Httpd:_static(req)
  local method = req.method
  if method == "OPTIONS" then return self:reply(req, 204, { Allow = "GET, HEAD, OPTIONS" }, "") end
  if method ~= "GET" and method ~= "HEAD" then
    return self:error(req, 405, nil, { Allow = "GET, HEAD, OPTIONS" })
  end
  local segs, why = clean_segments(req)
  if not segs then return self:error(req, 400, why) end
  if not self.dotfiles then
    for _, s in ipairs(segs) do
      if s:sub(1, 1) == "." then return self:error(req, 404) end
    end
  end
  local real, st = self:_resolve(segs)
  if not real then return self:error(req, st) end
  if st.is_dir then
    if req.path:sub(-1) ~= "/" then
      local raw = req.target:match("^/[^?#]*") or req.path
      local loc = raw .. "/" .. (req.query ~= "" and ("?" .. req.query) or "")
      return self:reply(req, 301, { Location = loc, ["Content-Type"] = "text/plain; charset=utf-8" },
        "moved to " .. loc .. "\n")
    end
    segs[#segs + 1] = self.index
    real, st = self:_resolve(segs)
    if not real then return self:error(req, st) end
  end
  if not st.is_file then return self:error(req, 404) end
  self:_send_file(req, real, st, segs)
end

local VARIANTS = { { coding = "br", suffix = ".br" }, { coding = "gzip", suffix = ".gz" } }

-- _variant finds a precompressed file beside the one segs names (through
-- the same jail): its path, stat and coding when the client accepts it,
-- and whether any variant exists (the response then varies).
function Httpd:_variant(req, segs)
  local last, any = segs[#segs], false
  for _, v in ipairs(VARIANTS) do
    segs[#segs] = last .. v.suffix
    local real, st = self:_resolve(segs)
    if real and type(st) == "table" and st.is_file then
      any = true
      if accepts(req.headers["accept-encoding"], v.coding) then
        segs[#segs] = last
        return real, st, v.coding, true
      end
    end
  end
  segs[#segs] = last
  return nil, nil, nil, any
end

-- byte_range reads a Range value for a representation of size bytes: the
-- first and last byte of one range; "unsatisfiable"; or nil to ignore the
-- header (not bytes, malformed, or several ranges: the whole file is sent).
local function byte_range(value, size)
  local spec = value:match("^%s*[Bb][Yy][Tt][Ee][Ss]%s*=%s*(.-)%s*$")
  if not spec or spec:find(",", 1, true) then return nil end
  local a, b = spec:match("^(%d*)%s*%-%s*(%d*)$")
  if not a or (a == "" and b == "") or #a > 15 or #b > 15 then return nil end
  if a == "" then -- the last b bytes
    local n = tonumber(b)
    if n == 0 or size == 0 then return "unsatisfiable" end
    return math.max(0, size - n), size - 1
  end
  local first, last = tonumber(a), b ~= "" and tonumber(b) or size - 1
  if b ~= "" and last < first then return nil end
  if first >= size then return "unsatisfiable" end
  return first, math.min(last, size - 1)
end

-- if_range reports whether an If-Range value still names the file: its
-- strong ETag, or exactly its Last-Modified date.
local function if_range(value, etag, mtime)
  value = value:match("^%s*(.-)%s*$")
  if value:sub(1, 1) == '"' then return value == etag end
  if value:sub(1, 2) == "W/" then return false end -- weak tags never match here
  return http.parse_date(value) == mtime
end

-- _send_file answers with a file: 304 when the client's copy is current,
-- 206 for one satisfiable byte range, 416 for an unsatisfiable one, else
-- 200 with the whole file; the bytes streamed in chunk_size pieces.
function Httpd:_send_file(req, path, st, segs)
  local h = req.headers
  local ext = path:match("%.([^./]+)$")
  local ctype = (ext and self.types[ext:lower()]) or self.default_type
  local coding, vary
  if self.precompressed and segs and not (ext and (ext:lower() == "gz" or ext:lower() == "br")) then
    local zpath, zst
    zpath, zst, coding, vary = self:_variant(req, segs)
    if zpath then path, st = zpath, zst end
  end
  -- A compressed file is its own representation: its own ETag (as
  -- nginx's gzip_static), and ranges count its bytes.
  local etag = coding and ('"%x-%x-%s"'):format(st.mtime, st.size, coding) or ('"%x-%x"'):format(st.mtime, st.size)
  local headers = { ["Last-Modified"] = http.date(st.mtime), ETag = etag, ["Accept-Ranges"] = "bytes" }
  if vary then headers.Vary = "Accept-Encoding" end
  if coding then headers["Content-Encoding"] = coding end
  local inm, ims = h["if-none-match"], h["if-modified-since"]
  local fresh = false
  if inm then
    fresh = etag_matches(inm, etag)
  elseif ims then
    local t = http.parse_date(ims)
    fresh = t ~= nil and st.mtime <= t
  end
  if fresh then return self:reply(req, 304, headers, "") end

  headers["Content-Type"] = ctype
  local status, first, last = 200, 0, st.size - 1
  local range = req.method == "GET" and h.range
  if range and (not h["if-range"] or if_range(h["if-range"], etag, st.mtime)) then
    local a, b = byte_range(range, st.size)
    if a == "unsatisfiable" then
      headers["Content-Range"] = "bytes */" .. st.size
      headers["Content-Type"], headers["Content-Encoding"] = "text/plain; charset=utf-8", nil
      return self:reply(req, 416, headers, "range not satisfiable\n")
    elseif a then
      status, first, last = 206, a, b
      headers["Content-Range"] = ("bytes %d-%d/%d"):format(a, b, st.size)
    end
  end
  local length = last - first + 1
  if req.method == "HEAD" then
    self.conn:send(self:_head(req, status, headers, length, req.keep))
    self:_log(req, status, 0)
    return self:_finish(req.keep)
  end
  local f = io.open(path, "rb")
  if not f then return self:error(req, 403) end
  if first > 0 and not f:seek("set", first) then
    f:close()
    return self:error(req, 500)
  end
  if length <= self.chunk_size then -- small: one send with the head
    local body = length > 0 and f:read(length) or ""
    f:close()
    body = body or ""
    if #body < length then -- the file shrank since stat: send what is there
      status, headers["Content-Range"] = 200, nil
      if first > 0 then return self:error(req, 500) end
    end
    self.conn:send(self:_head(req, status, headers, #body, req.keep) .. body)
    self:_log(req, status, #body)
    return self:_finish(req.keep)
  end
  self.conn:send(self:_head(req, status, headers, length, req.keep))
  self._stream = { file = f, left = length, size = length, req = req, status = status }
  self._progress = nil
  self:_arm(self.request_timeout)
  -- Stop reading until the file is sent: pipelined requests wait in the
  -- kernel, and a client that half-closes after its request still gets
  -- the whole file (the engine ends a connection at EOF).
  self._paused = true
  self.conn:pause()
  self:_pump()
end

-- _pump sends file chunks until the queue is above high water (then
-- drain calls it again) or the file is done.
function Httpd:_pump()
  local s = self._stream
  while s == self._stream do
    local n = math.min(self.chunk_size, s.left)
    local chunk = n > 0 and s.file:read(n)
    if not chunk or chunk == "" then
      self._stream = nil
      s.file:close()
      if s.left > 0 then -- the file shrank under us: the framing is lost
        log.warn("http file shorter than announced", "path", s.req.path, "missing", s.left)
        self._state = "gone"
        return self.conn:close(nil, "file truncated")
      end
      self:_log(s.req, s.status, s.size)
      return self:_finish(s.req.keep)
    end
    s.left = s.left - #chunk
    if not self.conn:send(chunk) then return end -- wait for drain (or closed)
  end
end

return Httpd
