local WebSocket = require "websocket"

local M = require "nosuchmod"
return WebSocket:extend()
-- usesnone.lua: requires, on line 3, a module that exists nowhere.
