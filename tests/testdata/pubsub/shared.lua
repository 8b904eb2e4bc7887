-- shared.lua: each line is a command on the "hits" dictionary, answered
-- with this worker's number: "incr" adds one, "get" reads, "state" uses
-- server.state (per worker). "dict NAME" opens server.shared(NAME) and
-- answers "dict ok" or "dict error: MESSAGE".
local hits = server.shared("hits", 65536)
local C = {}
function C:data(line)
  local cmd = line:match("^(%a+)")
  if cmd == "dict" then
    local ok, err = pcall(server.shared, line:match("^dict (.-)\r?\n?$"))
    self.conn:send(ok and "dict ok\n" or "dict error: " .. tostring(err) .. "\n")
    return
  end
  local v
  if cmd == "incr" then
    v = hits:incr("n", 1, 0)
  elseif cmd == "get" then
    v = hits:get("n")
  elseif cmd == "state" then
    local st = server.state("local")
    st.n = (st.n or 0) + 1
    v = st.n
  end
  self.conn:send(string.format("worker=%d v=%s\n", server.stats().worker, tostring(v)))
end
return C
