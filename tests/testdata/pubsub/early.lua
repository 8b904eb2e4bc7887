-- early.lua: accept(info) subscribes every connection to "early", so a
-- connection on a TLS port is a subscriber while its handshake runs;
-- start() greets with "hello". Lines in:
--   quiet              this connection leaves "early" and takes "mark";
--                      answers "quiet"
--   filtered           the next connection accepted gets a published
--                      handler, which writes "got " and the message;
--                      answers "filtered"
--   pub TAG N SIZE     N messages of SIZE bytes to "early", each a line
--                      "TAG-I xx...x", then "published" to "mark"
--   count              answers server.subscribers("early")
--   stats              answers "dropped=D delivered=E" (server.stats())
--   connect PORT       server.connect over TLS (insecure) to
--                      127.0.0.1:PORT, subscribed to "early" at once,
--                      before its start (which also says "hello");
--                      answers "connecting"
local Early = {}
Early.__index = Early

local Filtered = setmetatable({}, {__index = Early})
Filtered.__index = Filtered

function Filtered:published(topic, data)
  self.conn:send("got " .. data)
end

local filterNext = false

local Out = {}
Out.__index = Out

function Out:start()
  self.conn:send("hello\n")
end

function Early:accept(info)
  self.conn:subscribe("early")
  if filterNext then
    filterNext = false
    setmetatable(self, Filtered)
  end
end

function Early:start()
  self.conn:send("hello\n")
end

local commands = {
  quiet = function(self)
    self.conn:unsubscribe("early")
    self.conn:subscribe("mark")
    return "quiet"
  end,
  filtered = function()
    filterNext = true
    return "filtered"
  end,
  pub = function(_, tag, n, size)
    for i = 1, tonumber(n) do
      local head = tag .. "-" .. i .. " "
      server.publish("early", head .. string.rep("x", tonumber(size) - #head - 1) .. "\n")
    end
    server.publish("mark", "published\n")
  end,
  count = function() return tostring(server.subscribers("early")) end,
  connect = function(_, port)
    local out = assert(server.connect("127.0.0.1", tonumber(port), Out, {tls = true, insecure = true}))
    out.conn:subscribe("early")
    return "connecting"
  end,
  stats = function()
    local s = server.stats()
    return ("dropped=%d delivered=%d"):format(s.pubsub_dropped, s.delivered)
  end,
}

function Early:data(bytes)
  for line in bytes:gmatch("[^\n]+") do
    local words = {}
    for w in line:gmatch("%S+") do words[#words + 1] = w end
    local fn = commands[words[1] or ""]
    local answer = "unknown " .. line
    if fn then answer = fn(self, words[2], words[3], words[4]) end
    if answer then self.conn:send(answer .. "\n") end
  end
end

return Early
