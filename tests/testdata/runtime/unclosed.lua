-- unclosed.lua: a table constructor never closed (its '{' on line 5).
local C = {}

local defaults = {
  size = 10,
  name = "x"

local other = 1
return C
