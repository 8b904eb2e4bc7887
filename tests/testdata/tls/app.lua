-- TLS tests: HTTP, WebSocket and a line echo on one port, TLS or not.
-- GET /info answers what the connection knows of its TLS.
local Mux = require "mux"
local Httpd = require "httpd"
local WebSocket = require "websocket"

local Echo = WebSocket:extend{ compress = true } -- permessage-deflate when the client offers it
function Echo:message(payload, kind) self:send(payload, kind) end

local function info(req)
  local t = req.client.conn.tls
  local out = { scheme = req.scheme, tls = false, peer = req.client.conn.peer }
  if t then
    out.tls = true
    out.version, out.cipher, out.server_name, out.alpn = t.version, t.cipher, t.server_name, t.alpn
    out.resumed = t.resumed
    if t.peer then
      out.peer_subject, out.peer_issuer = t.peer.subject, t.peer.issuer
      out.peer_not_after, out.peer_fingerprint = t.peer.not_after, t.peer.fingerprint_sha256
    end
  end
  return 200, out
end

local App = Mux:extend()
App.routes = {
  { name = "tls",  match = Mux.tls,  class = Mux.RefuseTLS }, -- only without a certificate
  { name = "http", match = Mux.http, class = Httpd:extend{ routes = {
      ["GET /info"] = info,
      ["GET /echo"] = Echo,
      ["GET /page"] = function(req)
        return 200, [[<!doctype html><title>tls</title><script>
const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/echo");
ws.onopen = () => ws.send("hi over " + location.protocol);
ws.onmessage = (e) => { document.title = "echo: " + e.data; };
ws.onerror = () => { document.title = "error"; };
</script>]], { ["Content-Type"] = "text/html; charset=utf-8" }
      end,
  } } },
  { name = "echo", match = "ECHO ", class = require "tcp_echo" },
}
App.wait = 0.3
return App
