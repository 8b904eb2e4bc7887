local t = require "pocketlua.test"
local Counter = require "counter"

t.test("counts lines", function()
  local c = t.connect(Counter)
  c:data("a\nb\n")
  t.eq(c.sent, { "1\n", "2\n" })
end)

t.test("wrong count", function()
  local c = t.connect(Counter)
  c:data("a\n")
  t.eq(c.sent, { "1\n", "2\n" })
end)

t.test("sets a global", function()
  leaked = true
  t.eq(leaked, true)
end)

t.test("sees no global from another test", function()
  t.eq(leaked, nil)
end)

t.test("runtime error", function()
  local c = t.connect(Counter)
  c.instance.n = nil
  c:data("x\n")
end)

t.test("endless", function()
  while true do end
end)

t.test("quit closes", function()
  local c = t.connect(Counter)
  c:data("quit\n")
  t.ok(c.closed)
  t.eq(c.close_reason, "closed")
end)

t.test("logs then fails", function()
  print("printed", 42)
  log.warn("logged", "n", 7)
  t.ok(false, "the note")
end)
