-- Unit tests of httpd.lua's routing and request handling.
local t = require "pocketlua.test"
local Httpd = require "httpd"
local Echo = require "echo"

local Site = Httpd:extend({
  routes = {
    ["GET /hello"] = function(req, res) return 200, "hello " .. (req.query or "") end,
    ["POST /echo"] = function(req, res) return 201, req.body, { ["Content-Type"] = "application/octet-stream" } end,
    ["GET /boom"] = function(req, res) error("kaboom") end,
    ["GET /nothing"] = function(req, res) end,
    ["GET /later"] = function(req, res)
      res:defer()
      server.after(2, function() res:send(200, "late") end)
    end,
  },
  websocket = Echo,
})
Site:route("GET", "/users/(%d+)", function(req, res) return 200, "user " .. req.params[1] end)

-- status, headers (lower-case names) and body of the one response in s.
local function parse(s)
  local head, body = s:match("^(.-)\r\n\r\n(.*)$")
  t.ok(head, "a whole response head in " .. t.show(s))
  local status = tonumber(head:match("^HTTP/1.1 (%d+)"))
  local headers = {}
  for k, v in head:gmatch("\r\n([^:]+): ([^\r]*)") do headers[k:lower()] = v end
  return status, headers, body
end

local function get(c, path, extra)
  c:clear()
  c:data("GET " .. path .. " HTTP/1.1\r\nHost: x\r\n" .. (extra or "") .. "\r\n")
  return parse(c:output())
end

t.test("an exact route answers with its status and body", function()
  local c = t.connect(Site)
  local status, h, body = get(c, "/hello?x=1")
  t.eq(status, 200)
  t.eq(body, "hello x=1")
  t.eq(h["content-length"], "9")
  t.eq(h["content-type"], "text/plain; charset=utf-8")
  t.eq(c.closed, false, "keep-alive")
end)

t.test("a pattern route gets its captures in req.params", function()
  local status, _, body = get(t.connect(Site), "/users/42")
  t.eq({ status, body }, { 200, "user 42" })
end)

t.test("a body comes through Content-Length, split across reads", function()
  local c = t.connect(Site)
  c:data("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab")
  t.eq(c.sent, {}, "nothing before the whole body")
  c:data("cde")
  local status, h, body = parse(c:output())
  t.eq({ status, body, h["content-type"] }, { 201, "abcde", "application/octet-stream" })
end)

t.test("a chunked body is decoded in Go, split at every byte", function()
  local c = t.connect(Site)
  local raw = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;e=1\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n"
  for i = 1, #raw do c:data(raw:sub(i, i)) end
  local status, _, body = parse(c:output())
  t.eq({ status, body, c.closed }, { 201, "abcde", false })
end)

t.test("Content-Length with Transfer-Encoding: read by chunked, then closed", function()
  local c = t.connect(Site)
  c:data("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n" ..
    "3\r\nabc\r\n0\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
  local out = c:output()
  local status, h, body = parse(out)
  t.eq({ status, body, h.connection, c.closed }, { 201, "abc", "close", true })
  t.eq(select(2, out:gsub("HTTP/1.1 ", "")), 1, "one answer only")
end)

t.test("bare LF line endings are answered", function()
  local c = t.connect(Site)
  c:data("GET /hello?y HTTP/1.1\nHost: x\n\n")
  local status, _, body = parse(c:output())
  t.eq({ status, body, c.closed }, { 200, "hello y", false })
end)

t.test("res:etag answers 304 for a matching If-None-Match", function()
  local Tagged = Httpd:extend({ routes = {
    ["GET /doc"] = function(req, res)
      if res:etag("v2") then return end
      return 200, "doc"
    end,
  } })
  local c = t.connect(Tagged)
  local status, h, body = get(c, "/doc")
  t.eq({ status, h.etag, body }, { 200, '"v2"', "doc" })
  status, h, body = get(c, "/doc", 'If-None-Match: "v1", W/"v2"\r\n')
  t.eq({ status, h.etag, body, c.closed }, { 304, '"v2"', "", false })
  status = get(c, "/doc", 'If-None-Match: "v1"\r\n')
  t.eq(status, 200)
end)

t.test("compress gzips a large compressible body for a client that accepts gzip", function()
  local text = string.rep("compress me ", 200)
  local Zipped = Httpd:extend({ compress = true, routes = {
    ["GET /t"] = function(req, res) return 200, text end,
    ["GET /small"] = function(req, res) return 200, "small" end,
  } })
  local c = t.connect(Zipped)
  local status, h, body = get(c, "/t", "Accept-Encoding: gzip\r\n")
  t.eq({ status, h["content-encoding"], h.vary }, { 200, "gzip", "Accept-Encoding" })
  t.ok(#body < #text and body:sub(1, 2) == "\31\139", "a gzip stream, smaller")
  t.eq(tonumber(h["content-length"]), #body)
  status, h, body = get(c, "/t")
  t.eq({ h["content-encoding"], h.vary, body }, { nil, "Accept-Encoding", text })
  status, h = get(c, "/small", "Accept-Encoding: gzip\r\n")
  t.eq(h["content-encoding"], nil)
end)

t.test("unknown paths get 404, wrong methods 405 with Allow", function()
  local c = t.connect(Site)
  t.eq((get(c, "/nope")), 404)
  c:clear()
  c:data("DELETE /hello HTTP/1.1\r\nHost: x\r\n\r\n")
  local status, h = parse(c:output())
  t.eq(status, 405)
  t.eq(h.allow, "GET, HEAD")
end)

t.test("a failing handler gives 500 and the connection lives on", function()
  local c = t.connect(Site)
  t.eq((get(c, "/boom")), 500)
  t.eq((get(c, "/nothing")), 500)
  t.eq((get(c, "/hello")), 200)
end)

t.test("a deferred response goes out when the handler sends it", function()
  local c = t.connect(Site)
  c:data("GET /later HTTP/1.1\r\nHost: x\r\n\r\n")
  t.eq(c.sent, {})
  t.advance(2)
  local status, _, body = parse(c:output())
  t.eq({ status, body }, { 200, "late" })
end)

t.test("Connection: close closes after the response", function()
  local c = t.connect(Site)
  local status, h = get(c, "/hello", "Connection: close\r\n")
  t.eq(status, 200)
  t.eq(h.connection, "close")
  t.ok(c.closed)
end)

t.test("an idle keep-alive connection closes after keepalive_timeout", function()
  local c = t.connect(Site)
  t.advance(Site.keepalive_timeout - 1)
  t.eq(c.closed, false)
  t.advance(1)
  t.ok(c.closed)
end)

t.test("a malformed request line gets 400", function()
  local c = t.connect(Site)
  c:data("NONSENSE\r\n\r\n")
  t.eq((parse(c:output())), 400)
end)

t.test("an Upgrade: websocket request goes to the websocket class", function()
  local c = t.connect(Site, { kind = "websocket", path = "/ws" })
  c:message("over http")
  t.eq(c.sent, { "over http" })
end)
