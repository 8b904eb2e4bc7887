local WebSocket = require "websocket"
local M = require "badmod"
return WebSocket:extend()
-- usesbad.lua: requires a module with a syntax error (badmod.lua, line 3).
