---@meta http

---HTTP helpers in Go for servers written in Lua.
---@class pocketlua.http
local http = {}

---A parsed request head.
---@class pocketlua.http.request
---@field method string
---@field target string the request target as sent
---@field path string
---@field query string the raw query, without "?"
---@field version string "HTTP/1.1" or "HTTP/1.0"
---@field headers table<string, string> lower-case names
---@field length? integer the Content-Length body's size
---@field chunked? true the body is chunked (read it with http.chunked)
---@field keep boolean the connection may carry another request after this one
---@field ambiguous? true Content-Length came with Transfer-Encoding: close after answering

---Parses a request head: nil while incomplete; the request and the bytes it
---used; or nil, an HTTP status and a ready error response when it must be refused.
---@param buf string
---@param max_head? integer bytes of head before 431 (default 8192)
---@return pocketlua.http.request|nil req
---@return integer? consumed_or_status
---@return string? response
function http.parse_request(buf, max_head) end

---A decoder for one chunked request body.
---@class pocketlua.http.chunked
local chunked = {}

---Decodes what it can of bytes: the body bytes, the bytes left (a partial
---line, or what follows the body) and whether the body is complete; or nil,
---an HTTP status (400, 413, 431) and a ready error response.
---@param bytes string
---@return string|nil data
---@return string|integer rest_or_status
---@return boolean|string done_or_response
function chunked:feed(bytes) end

---Whether the last chunk and the trailers were read.
---@return boolean
function chunked:done() end

---Makes a chunked body decoder (RFC 9112 §7.1); extensions and trailers
---are checked and dropped.
---@param max_body? integer decoded bytes before 413 (default: no limit)
---@param max_trailer? integer trailer bytes before 431 (default 8192)
---@return pocketlua.http.chunked
function http.chunked(max_body, max_trailer) end

---Compresses s with gzip (compress/gzip).
---@param s string
---@param level? integer 1 (fast) to 9 (small), default 6
---@return string
function http.gzip(s, level) end

---A whole HTTP error response with a one-line text body.
---@param status integer
---@param message? string default: the status text
---@param headers? table<string, string>
---@return string
function http.error_response(status, message, headers) end

---The reason phrase of a status ("Not Found"), or "".
---@param status integer
---@return string
function http.status_text(status) end

---Formats Unix seconds (default now) as an HTTP date.
---@param t? number
---@return string
function http.date(t) end

---Reads an HTTP date (any of the three formats) as Unix seconds, or nil.
---@param s string
---@return integer?
function http.parse_date(s) end

return http
