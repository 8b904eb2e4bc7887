-- Unit tests of the chat room (chat.lua), run by `pocketlua test scripts/examples`.
local t = require "pocketlua.test"
local json = require "json"
local Chat = require "chat"

-- join connects a member to room through the URL, as the page does.
local function join(room, name)
  local c = t.connect(Chat, { kind = "websocket", path = "/chat?room=" .. room .. "&name=" .. name })
  return c
end

-- last decodes the last message c was sent.
local function last(c)
  return json.decode(c.sent[#c.sent])
end

t.test("a member is welcomed with the room's members", function()
  local ann = join("lobby", "ann")
  t.eq(last(ann), { type = "welcome", room = "lobby", name = "ann", members = { "ann" }, online = 1 })
  local bob = join("lobby", "bob")
  t.eq(last(bob).members, { "ann", "bob" })
  t.eq(last(bob).online, 2)
  t.eq(last(ann), { type = "join", room = "lobby", name = "bob" })
end)

t.test("the welcome's names come from server.shared, as every worker writes them", function()
  join("lobby", "ann")
  -- another worker's member of the lobby
  local directory = server.shared("chat")
  directory:set("worker:2", true)
  directory:set("names:lobby:2", "zed")
  local bob = join("lobby", "bob")
  t.eq(last(bob).members, { "ann", "bob", "zed" })
  local other = join("lobby", "zed")
  t.match(last(other).name, "^zed#%d+$")
end)

t.test("what one says reaches the whole room and no other", function()
  local ann, bob, eve = join("lobby", "ann"), join("lobby", "bob"), join("attic", "eve")
  eve:clear()
  bob:message(json.encode({ type = "say", text = "  hello  " }))
  local m = last(ann)
  t.eq({ m.type, m.name, m.text }, { "message", "bob", "hello" })
  t.eq(last(bob).text, "hello")
  t.eq(eve.sent, {})
  t.eq(eve.kinds, {})
end)

t.test("a member who leaves is announced and the room goes away when empty", function()
  local ann, bob = join("lobby", "ann"), join("lobby", "bob")
  bob:close(1001, "going away")
  t.eq(last(ann), { type = "leave", room = "lobby", name = "bob" })
  t.eq(Chat.rooms(), { lobby = 1 })
  ann:close()
  t.eq(Chat.rooms(), {})
end)

t.test("the same name twice gets a suffix", function()
  join("lobby", "ann")
  local other = join("lobby", "ann")
  t.match(last(other).name, "^ann#%d+$")
end)

t.test("bad messages get an error and change nothing", function()
  local c = t.connect(Chat, { kind = "websocket" })
  c:message("not json")
  t.eq(last(c).type, "error")
  c:message(json.encode({ type = "say", text = "hi" }))
  t.eq(last(c).error, "join a room first")
  c:message(json.encode({ type = "join", room = "no spaces!", name = "x" }))
  t.match(last(c).error, "room names")
  c:message(json.encode({ type = "dance" }))
  t.eq(last(c).error, "unknown message type")
  t.eq(Chat.rooms(), {})
end)

t.test("an over-long message is refused", function()
  local c = join("lobby", "ann")
  c:message(json.encode({ type = "say", text = string.rep("x", Chat.max_text + 1) }))
  t.match(last(c).error, "longer than")
end)

t.test("rooms live in server.state", function()
  join("lobby", "ann")
  t.eq(server.state("chat").rooms.lobby.count, 1)
end)
