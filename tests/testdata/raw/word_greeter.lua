-- word_greeter.lua (a template: {{"{{."}}}} is the module's name): answers every
-- connection with the word of a module found by require, then echoes.
local words = require "{{.}}"
local C = {}
function C:start() self.conn:send(words.word .. "\n") end
function C:data(b) self.conn:send(b) end
return C
