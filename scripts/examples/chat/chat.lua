-- chat.lua: a WebSocket chat with rooms and JSON messages. A client joins a
-- room from the URL (ws://host/chat?room=lobby&name=ann) or with a first
-- message {"type":"join","room":"lobby","name":"ann"}, then sends
-- {"type":"say","text":"..."}. The server sends JSON text messages:
--
--   {"type":"welcome","room":"lobby","name":"ann","members":["ann","bob"],"online":2}
--   {"type":"join","room":"lobby","name":"bob"}        someone else joined
--   {"type":"message","room":"lobby","name":"bob","text":"hi","time":1700000000}
--   {"type":"leave","room":"lobby","name":"bob"}
--   {"type":"error","error":"..."}
--
-- Each room is a topic, "chat.<room>": what is said reaches every member
-- in every worker (--workers) and every process on a broker (--broker,
-- docs/SCALING.md), the JSON encoded once. The members this worker knows
-- live in server.state("chat"), so they survive a reload: connections
-- keep their rooms and the new code sees them. A member whose conn is not
-- a socket (ssh-chat's terminals: a table with send and is_open) gets the
-- room's messages from this worker directly.
--
-- The welcome lists the names in every worker of this process: each
-- worker writes its rooms' names to server.shared("chat"). "online" is
-- the room's members over every process on the broker, counted by
-- server.presence (WebSocket members, which subscribe, and this worker's
-- terminals), so the welcome is sent once presence answers. Names across
-- processes would need state shared across machines, which pocketlua
-- does not have.
local WebSocket = require "websocket"
local json = require "json"
local Httpd = require "httpd"

local Chat = WebSocket:extend()
Chat.max_message = 16 * 1024 -- a chat line, not a file
Chat.ping_interval = 30      -- keep idle browsers' NAT entries alive
Chat.idle_timeout = 120
Chat.max_text = 2000        -- bytes of one message's text
Chat.max_name = 24

-- rooms[name] = { members = { [instance] = true }, count = n }; state.count
-- rooms. A member removed from a set is forgotten at once (the runtime's
-- tables drop deleted keys), so nothing here needs compacting.
local state = server.state("chat", { rooms = {} })
local rooms = state.rooms

-- directory: "worker:W" is true for each worker, "names:ROOM:W" is the
-- names of worker W's members of ROOM, one a line.
local directory = server.shared("chat", 8 * 1024 * 1024)
local me = server.stats().worker
directory:set("worker:" .. me, true)

-- publish_names rewrites this worker's names of room name.
local function publish_names(name)
  local room, names = rooms[name], {}
  for m in pairs(room and room.members or {}) do names[#names + 1] = m.name end
  if #names == 0 then
    directory:delete("names:" .. name .. ":" .. me)
  else
    directory:set("names:" .. name .. ":" .. me, table.concat(names, "\n"))
  end
end

-- names_in lists the names of room name's members in every worker.
local function names_in(name)
  local out = json.array()
  local w = 1
  while directory:get("worker:" .. w) do
    for n in (directory:get("names:" .. name .. ":" .. w) or ""):gmatch("[^\n]+") do out[#out + 1] = n end
    w = w + 1
  end
  table.sort(out)
  return out
end

local function clean(s, max)
  if type(s) ~= "string" then return nil end
  s = s:gsub("[%c]", ""):gsub("^%s+", ""):gsub("%s+$", "")
  if s == "" or #s > max then return nil end
  return s
end

local function valid_room(s)
  return type(s) == "string" and #s >= 1 and #s <= 32 and s:match("^[%w_%-]+$") ~= nil
end

-- send_json sends one JSON text message to one member.
function Chat:send_json(t)
  return self:send(json.encode(t), "text")
end

-- subscribes reports whether a member's conn is a socket that takes topics.
local function subscribes(m)
  return type(m.conn) == "userdata"
end

-- to_room publishes t to room name's topic, for every member but skip,
-- and hands it to this worker's members that are not sockets.
local function to_room(name, t, skip)
  local text = json.encode(t)
  server.publish("chat." .. name, text, "text", skip and subscribes(skip) and skip or nil)
  local room = rooms[name]
  if not room then return end
  for m in pairs(room.members) do
    if m ~= skip and not subscribes(m) and m.conn:is_open() then m.conn:send(text, "text") end
  end
end

function Chat:join(name, nick)
  if not valid_room(name) then
    return self:send_json({ type = "error", error = "room names are 1-32 letters, digits, _ or -" })
  end
  self:leave()
  nick = clean(nick, self.max_name) or ("guest" .. self.conn.id)
  local room = rooms[name]
  if not room then
    room = { members = {}, count = 0 }
    rooms[name] = room
    state.count = (state.count or 0) + 1
  end
  for _, n in ipairs(names_in(name)) do
    if n == nick then nick = nick .. "#" .. self.conn.id break end
  end
  room.members[self] = true
  room.count = room.count + 1
  self.room, self.name = name, nick
  self.joins = (self.joins or 0) + 1
  publish_names(name)
  if subscribes(self) then self.conn:subscribe("chat." .. name) end
  local joins, terminals = self.joins, 0
  for m in pairs(room.members) do
    if not subscribes(m) then terminals = terminals + 1 end
  end
  server.presence("chat." .. name, function(online)
    if self.joins ~= joins or self.room ~= name then return end -- left meanwhile
    self:send_json({ type = "welcome", room = name, name = nick, members = names_in(name), online = online + terminals })
  end)
  to_room(name, { type = "join", room = name, name = nick }, self)
end

function Chat:leave()
  local room = self.room and rooms[self.room]
  if not room or not room.members[self] then return end
  room.members[self] = nil
  room.count = room.count - 1
  publish_names(self.room)
  if subscribes(self) then self.conn:unsubscribe("chat." .. self.room) end
  to_room(self.room, { type = "leave", room = self.room, name = self.name })
  if room.count == 0 then
    rooms[self.room] = nil
    state.count = (state.count or 1) - 1
  end
  self.room = nil
end

function Chat:open(req)
  local q = Httpd.parse_query(req.query)
  if q.room then self:join(q.room, q.name) end
end

function Chat:message(payload, kind)
  local m, err = json.decode(payload)
  if type(m) ~= "table" then
    return self:send_json({ type = "error", error = err or "a message is a JSON object" })
  end
  if m.type == "join" then
    self:join(m.room, m.name)
  elseif m.type == "say" then
    local text = clean(m.text, self.max_text)
    if not self.room then
      self:send_json({ type = "error", error = "join a room first" })
    elseif type(m.text) == "string" and #m.text > self.max_text then
      self:send_json({ type = "error", error = "message longer than " .. self.max_text .. " bytes" })
    elseif text then
      to_room(self.room, { type = "message", room = self.room, name = self.name, text = text, time = os.time() })
    end
  elseif m.type == "leave" then
    self:leave()
  else
    self:send_json({ type = "error", error = "unknown message type" })
  end
end

function Chat:closed(code, reason)
  self:leave()
end

-- Chat.rooms() lists the rooms and their member counts (for a status page).
function Chat.rooms()
  local out = {}
  for name, room in pairs(rooms) do out[name] = room.count end
  return out
end

return Chat
