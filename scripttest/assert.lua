-- The assertions of pocketlua.test. A failed assertion raises a failure
-- object carrying "file:line: message" of the test line that asserted; the
-- runner prints it without a traceback.
local t = ...
local show = t.show

local Failure = {}
Failure.__tostring = function(f) return f.message end

-- where(level) is "file:line: " of the function `level` calls above the caller.
local function where(level)
  local info = debug.getinfo(level + 2, "Sl")
  if info and info.currentline and info.currentline > 0 then
    return (info.source or "?"):gsub("^@", "") .. ":" .. info.currentline .. ": "
  end
  return ""
end

local function fail(msg, note, level)
  if note ~= nil then msg = tostring(note) .. ": " .. msg end
  error(setmetatable({ message = where(level + 1) .. msg, failure = true }, Failure), 0)
end

t.is_failure = function(v) return getmetatable(v) == Failure end

-- t.fail(msg) fails the test here.
function t.fail(msg)
  fail(tostring(msg), nil, 1)
end

-- diff returns the path of the first difference between got and want and
-- the two values there, or nil when they are equal: tables compare by
-- content (their metatables not).
local function diff(got, want, path, seen)
  if got == want then return nil end
  if type(got) ~= "table" or type(want) ~= "table" then return path, got, want end
  if seen[got] == want then return nil end
  seen[got] = want
  for k, v in pairs(want) do
    local p, g, w = diff(rawget(got, k), v, path .. "[" .. show(k) .. "]", seen)
    if p then return p, g, w end
  end
  for k, v in pairs(got) do
    if rawget(want, k) == nil then return path .. "[" .. show(k) .. "]", v, nil end
  end
  return nil
end

-- t.eq(got, want[, note]): equal values; tables are compared deeply.
function t.eq(got, want, note)
  local path, g, w = diff(got, want, "", {})
  if not path then return end
  if path == "" then
    fail("expected " .. show(want) .. ", got " .. show(got), note, 1)
  end
  fail("at " .. path .. ": expected " .. show(w) .. ", got " .. show(g) ..
    "\n  expected " .. show(want) .. "\n       got " .. show(got), note, 1)
end

-- t.ne(got, unwanted[, note]): values differ.
function t.ne(got, unwanted, note)
  if not diff(got, unwanted, "", {}) then
    fail("expected anything but " .. show(unwanted), note, 1)
  end
end

-- t.ok(value[, note]): value is neither nil nor false.
function t.ok(value, note)
  if not value then fail("expected a true value, got " .. show(value), note, 1) end
end

-- t.match(s, pattern[, note]): s is a string that matches the Lua pattern.
function t.match(s, pattern, note)
  if type(s) ~= "string" or not s:find(pattern) then
    fail("expected a string matching " .. show(pattern) .. ", got " .. show(s), note, 1)
  end
end

-- t.raises(fn[, pattern[, note]]): fn raises an error (matching pattern);
-- returns the error message.
function t.raises(fn, pattern, note)
  local ok, err = pcall(fn)
  if ok then fail("expected an error, got none", note, 1) end
  if getmetatable(err) == Failure then error(err, 0) end
  local msg = tostring(err)
  if pattern and not msg:find(pattern) then
    fail("expected an error matching " .. show(pattern) .. ", got " .. show(msg), note, 1)
  end
  return msg
end
