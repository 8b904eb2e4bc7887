---@meta fs

---File system calls Lua's io and os lack. Failures return nil, the error
---text and an errno name ("ENOENT", ...).
---@class pocketlua.fs
local fs = {}

---@class pocketlua.fs.stat
---@field size integer
---@field mtime integer Unix seconds
---@field mode integer permission bits
---@field perm string "rwxr-xr-x"
---@field is_dir boolean
---@field is_file boolean
---@field is_link boolean

---Stats path, following symlinks.
---@param path string
---@return pocketlua.fs.stat|nil st
---@return string? err
---@return string? errno
function fs.stat(path) end

---Stats path without following a symlink.
---@param path string
---@return pocketlua.fs.stat|nil st
---@return string? err
---@return string? errno
function fs.lstat(path) end

---The names in a folder, sorted, without . and ..
---@param dir string
---@return string[]|nil names
---@return string? err
---@return string? errno
function fs.list(dir) end

---The absolute path with every symlink, . and .. resolved; the path must exist.
---@param path string
---@return string|nil path
---@return string? err
---@return string? errno
function fs.realpath(path) end

---Makes one folder (mode 0755 by default, less the umask).
---@param path string
---@param mode? integer
---@return true|nil ok
---@return string? err
---@return string? errno
function fs.mkdir(path, mode) end

---Makes an empty file that must not exist yet, with mode (default 0644,
---less the umask; io.open would make it 0600): true, or nil, a message
---and "EEXIST" when it is there.
---@param path string
---@param mode? integer
---@return boolean? ok
---@return string? err
---@return string? code
function fs.create(path, mode) end

---Removes a file or an empty folder.
---@param path string
---@return true|nil ok
---@return string? err
---@return string? errno
function fs.remove(path) end

return fs
