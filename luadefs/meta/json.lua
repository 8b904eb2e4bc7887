---@meta json

---JSON encoding and decoding in Go.
---@class pocketlua.json
---@field null userdata the sentinel for JSON null
---@field array_mt table the metatable that marks a table as an array
local json = {}

---Encodes a value as JSON text; raises on a value it cannot encode.
---@param value any
---@param opts? {max_depth?: integer, max_size?: integer}
---@return string
function json.encode(value, opts) end

---Decodes JSON text: the value, or nil and a message.
---@param text string
---@param opts? {max_depth?: integer, max_size?: integer}
---@return any value
---@return string? err
function json.decode(text, opts) end

---Whether v is a table json.encode writes as an array (a decoded [] too).
---@param v any
---@return boolean
function json.is_array(v) end

---Marks t (or a new table) as an array, so an empty one encodes as [].
---@generic T: table
---@param t? T
---@return T
function json.array(t) end

return json
