-- tables.lua: a raw class whose commands exercise the runtime's tables:
-- a set of instances (mem), network integer keys (key), weak tables
-- (weak, weakcheck), clearing inside pairs (clear).
local FatClient = require "fatclient"
local T = FatClient:extend()

local members = {}   -- instance -> true while connected
local ids = {}       -- keyed by numbers a client sends
local wk = setmetatable({}, {__mode = "k"})
local wv = setmetatable({}, {__mode = "v"})
local kept = {}

function T:start() members[self] = true self.buf = "" self.conn:send("hi\n") end
function T:closed() members[self] = nil end

local function count(t) local n = 0 for _ in pairs(t) do n = n + 1 end return n end

local commands = {}
function commands.mem()
  collectgarbage("collect")
  return string.format("%.1f %d", collectgarbage("count"), count(members))
end
function commands.key(arg)
  local n = tonumber(arg)
  ids[n] = true
  return tostring(ids[n]) .. " " .. #ids .. " " .. count(ids)
end
-- hold keeps the fresh tables until weakcheck, so a collection that runs
-- in between (any allocation may start one) cannot take them early.
local hold
function commands.weak()
  hold = {}
  for i = 1, 100 do
    local k, v = {}, {}
    hold[2 * i - 1], hold[2 * i] = k, v
    wk[k] = i wv[i] = v
  end
  wk[kept] = "kept" wv.kept = kept wv.s = "str"
  return count(wk) .. " " .. count(wv) .. " " .. #wv
end
function commands.weakcheck()
  hold = nil
  collectgarbage()
  return count(wk) .. " " .. count(wv) .. " " .. #wv .. " " .. wk[kept] .. " " .. tostring(wv.kept == kept) .. " " .. tostring(wv[1])
end
function commands.clear()
  local t = {}
  for i = 1, 500 do t[i] = i t["s" .. i] = i t[i * 4096] = i end
  t[2^53] = 1 t[0.5] = 1 t[false] = 1 t[kept] = 1
  local seen, n = {}, 0
  for k in pairs(t) do
    if seen[k] then return "twice " .. tostring(k) end
    seen[k] = true n = n + 1
    t[k] = nil
  end
  return n .. " " .. tostring(next(t)) .. " " .. #t
end

function T:data(bytes)
  self.buf = self.buf .. bytes
  while true do
    local line, rest = self.buf:match("^([^\n]*)\n(.*)$")
    if not line then return end
    self.buf = rest
    local cmd, arg = line:match("^(%S+)%s*(.*)$")
    local f = commands[cmd or ""]
    self.conn:send((f and f(arg) or "unknown") .. "\n")
  end
end

return T
