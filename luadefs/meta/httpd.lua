---@meta httpd

---An HTTP/1.1 server class: static files, routes to Lua functions,
---keep-alive, pipelining, request bodies, WebSocket hand-off. Options are
---class fields; a subclass overrides them.
---@class Httpd: FatClient
---@field root? string folder of static files; nil: routes only
---@field index string served for a folder (index.html)
---@field routes? table<string, function|table> { ["GET /path"] = function(req, res) return status, body, headers end, or a class }
---@field patterns? table[] routes added with Class:route
---@field websocket? table class that gets any "Upgrade: websocket" request
---@field max_head integer request line and headers, bytes (8192); more gives 431
---@field max_uri integer request target, bytes (4096); longer gives 414
---@field max_body integer request body, bytes (1 MiB); larger gives 413
---@field keepalive_timeout number seconds an idle connection waits for a request (15)
---@field request_timeout number seconds from a request's first byte to its end (30); then 408
---@field chunk_size integer bytes read from a file per send (65536)
---@field max_pipeline integer pipelined requests answered per turn of the loop (16)
---@field precompressed boolean send file.br / file.gz beside file when the client accepts it (true)
---@field compress boolean gzip route responses of compressible types (false)
---@field compress_min integer smallest body compress gzips, bytes (1024)
---@field compress_types string[] Lua patterns on the media type of compressible responses
---@field cache_control? string|table<string, string> Cache-Control for 200/206/304 answers: one value, or by path prefix (the longest wins)
---@field dotfiles boolean serve names that start with "."
---@field access_log boolean log.info one line per response
---@field server_name string the Server header
---@field https_redirect boolean plaintext requests get 308 to https:// (needs --tls-cert)
---@field hsts_max_age integer with https_redirect: Strict-Transport-Security max-age on https responses (31536000; 0: none)
---@field types table<string, string> Content-Type by file extension
---@field default_type string Content-Type of other files
local Httpd = {}

---A request as route handlers get it.
---@class Httpd.request: pocketlua.http.request
---@field body string the request body
---@field params string[] the captures of a pattern route
---@field keep boolean the connection stays open after the response
---@field scheme "http"|"https" "https" when the engine terminated TLS on the connection

---Percent-decoding ("+" stays "+").
---@param s string
---@return string
function Httpd.decode(s) end

---Parses a query string into a table (the first value of each key wins).
---@param q? string
---@return table<string, string>
function Httpd.parse_query(q) end

---Makes a subclass; a root in fields is checked now, relative to the
---main script's folder.
---@param fields? table
---@return Httpd
function Httpd:extend(fields) end

---Adds a pattern route: fn(req, res) serves the paths matching the Lua
---pattern (anchored); its captures are in req.params; method "*" matches any.
---@param method string
---@param pattern string
---@param fn fun(req: Httpd.request, res: HttpResponse): integer?, string?, table?
---@return self
function Httpd:route(method, pattern, fn) end

---Starts reading requests; a subclass's start calls Httpd.start(self).
function Httpd:start() end

---Reads request bytes.
---@param bytes string
function Httpd:data(bytes) end

---Goes on with a response that waited for the queue to drain.
function Httpd:drain() end

---Cleans up the connection's timers.
function Httpd:closed() end

---Sends a whole response and goes on with the next request (or closes).
---@param req Httpd.request
---@param status integer
---@param headers? table<string, string>
---@param body? string
---@param close? boolean
function Httpd:reply(req, status, headers, body, close) end

---Answers with a one-line text body, keeping the connection.
---@param req Httpd.request
---@param status integer
---@param message? string
---@param headers? table<string, string>
function Httpd:error(req, status, message, headers) end

---The response object a route handler gets as res.
---@class HttpResponse
---@field client Httpd the connection's instance
---@field req Httpd.request
---@field headers table<string, string>
---@field sent? boolean
local HttpResponse = {}

---Adds a response header (before send).
---@param name string
---@param value string
---@return self
function HttpResponse:header(name, value) end

---Tells the server the handler answers later with res:send.
function HttpResponse:defer() end

---Sets the ETag (quoted if it is not); when the request's If-None-Match
---names it, answers 304 at once and returns true: the handler then returns.
---@param tag string
---@return boolean answered
function HttpResponse:etag(tag) end

---Answers the request, once; false when it was answered already or the client is gone.
---@param status integer
---@param body? string
---@param headers? table<string, string>
---@return boolean
function HttpResponse:send(status, body, headers) end

return Httpd
