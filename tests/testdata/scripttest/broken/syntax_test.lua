local t = require "pocketlua.test"
t.test("never runs", function() end
