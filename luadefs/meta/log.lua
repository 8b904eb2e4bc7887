---@meta log

---Structured logging to the server's log, tagged with the script's file:line.
---Attributes are key, value pairs or one table.
---@class pocketlua.log
local log = {}

---@param msg any
---@param ... any key, value, ... or {key = value}
function log.debug(msg, ...) end

---@param msg any
---@param ... any key, value, ... or {key = value}
function log.info(msg, ...) end

---@param msg any
---@param ... any key, value, ... or {key = value}
function log.warn(msg, ...) end

---@param msg any
---@param ... any key, value, ... or {key = value}
function log.error(msg, ...) end

return log
