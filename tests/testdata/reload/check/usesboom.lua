local WebSocket = require "websocket"
local M = require "boommod"
return WebSocket:extend()
-- usesboom.lua: requires a module that raises (boommod.lua, line 3).
