-- ssh-chat: the chat room of scripts/examples/chat over SSH and WebSocket
-- on one port. Browsers load the chat page and talk WebSocket; terminals
-- log in with ssh and get the same room as a line-oriented screen. Both
-- are members of chat.lua's rooms (the local room, in server.state), so a
-- line typed in a terminal shows in the browsers and the other way round.
--
--   pocketlua -l 127.0.0.1:8080 -I scripts/examples/chat scripts/examples/ssh-chat/server.lua
--   open http://127.0.0.1:8080/?room=lobby&name=web
--   ssh -p 8080 ann@127.0.0.1          (any key, or the password "chat")
--
-- In the terminal: type a line and Enter to say it; /quit or Ctrl-D leaves.
local Mux = require "mux"
local Httpd = require "httpd"
local Ssh = require "ssh"
local Chat = require "chat"
local json = require "json"

local here = debug.getinfo(1, "S").source:match("^(.*)/[^/]*$") or "."

local Terminal = Ssh.Session:extend()
Terminal.room = "lobby"
Terminal.max_line = 2000

-- member is the terminal as chat.lua sees a client: a Chat instance whose
-- conn turns each JSON message into a line on the screen.
function Terminal:member()
  local session = self
  return setmetatable({
    conn = {
      id = "ssh" .. self.channel.id,
      is_open = function() return session:is_open() end,
      send = function(_, text) return session:show(json.decode(text)) end,
    },
  }, Chat)
end

function Terminal:pty() self.line = "" end

function Terminal:shell()
  self.line = ""
  self:send("pocketlua chat, room " .. self.room .. ". Type a line and Enter; /quit leaves.\r\n")
  self.chat = self:member()
  Chat.join(self.chat, self.room, self.user)
end

function Terminal:prompt() return "[" .. self.room .. "] " end

-- show prints one chat event above the line being typed.
function Terminal:show(m)
  local text
  if m.type == "message" then text = m.name .. ": " .. m.text
  elseif m.type == "join" then text = "* " .. m.name .. " joined"
  elseif m.type == "leave" then text = "* " .. m.name .. " left"
  elseif m.type == "welcome" then text = "* you are " .. m.name .. "; here: " .. table.concat(m.members, ", ")
  elseif m.type == "error" then text = "! " .. m.error
  else return true end
  return self:send("\r\27[K" .. text:gsub("%c", "") .. "\r\n" .. self:prompt() .. self.line)
end

function Terminal:data(bytes)
  for c in bytes:gmatch(".") do
    if c == "\r" or c == "\n" then
      local line = self.line
      self.line = ""
      self:send("\r\27[K")
      if line == "/quit" then return self:exit(0) end
      if line:find("%S") then
        Chat.message(self.chat, json.encode({ type = "say", text = line })) -- show redraws the prompt
      else
        self:send(self:prompt())
      end
    elseif c == "\127" or c == "\8" then
      if #self.line > 0 then
        self.line = self.line:gsub("[\128-\191]*.$", "") -- one UTF-8 character
        self:send("\8 \8")
      end
    elseif c == "\3" or c == "\4" then
      self:send("\r\n")
      return self:exit(0)
    elseif c:byte() >= 32 and #self.line < self.max_line then
      self.line = self.line .. c
      self:send(c)
    end
  end
end

function Terminal:closed()
  if self.chat then Chat.leave(self.chat) end
end

local Terminals = Ssh:extend{ session = Terminal, sftp = false }
function Terminals:auth_publickey(user, key) return true end         -- a chat: any key, the name is the user's
function Terminals:auth_password(user, password) return password == "chat" end

local Site = Httpd:extend({ root = here .. "/../chat/www", websocket = Chat })

local App = Mux:extend()
App.routes = {
  { name = "ssh",  match = Mux.ssh,  class = Terminals },
  { name = "http", match = Mux.http, class = Site },
}
return App
