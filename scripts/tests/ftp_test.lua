-- Unit tests of ftp.lua's commands, on the folder ftproot beside this file.
local t = require "pocketlua.test"
local Ftp = require "ftp"

local Site = Ftp:extend({
  root = t.dir .. "/ftproot",
  users = { alice = { password = "s3cret", write = false } },
})

-- cmd sends one command line and returns the replies it got.
local function cmd(c, line)
  c:clear()
  c:data(line .. "\r\n")
  return c:output()
end

local function login(user, password)
  local c = t.connect(Site, { peer = "127.0.0.1:40001" })
  t.match(cmd(c, "USER " .. user), "^331 ")
  t.match(cmd(c, "PASS " .. password), "^230 ")
  return c
end

t.test("the server greets first", function()
  local c = t.connect(Site)
  t.eq(c:output(), "220 pocketlua FTP server ready\r\n")
end)

t.test("commands before login are refused with 530", function()
  local c = t.connect(Site)
  t.match(cmd(c, "PWD"), "^530 ")
  t.match(cmd(c, "SYST"), "^215 ")
end)

t.test("a wrong password three times closes the connection", function()
  local c = t.connect(Site)
  for i = 1, 2 do
    cmd(c, "USER alice")
    t.match(cmd(c, "PASS wrong"), "^530 ")
  end
  cmd(c, "USER alice")
  t.match(cmd(c, "PASS wrong"), "^421 ")
  t.ok(c.closed)
end)

t.test("PWD, CWD and CDUP move inside the root", function()
  local c = login("alice", "s3cret")
  t.eq(cmd(c, "PWD"), '257 "/" is the current directory\r\n')
  t.match(cmd(c, "CWD pub"), "^250 ")
  t.eq(cmd(c, "PWD"), '257 "/pub" is the current directory\r\n')
  t.match(cmd(c, "CWD ../../.."), "^250 ")
  t.eq(cmd(c, "PWD"), '257 "/" is the current directory\r\n', "never above the root")
  t.match(cmd(c, "CWD missing"), "^550 ")
end)

t.test("SIZE answers a file's size", function()
  local c = login("anonymous", "x")
  t.eq(cmd(c, "SIZE /pub/hello.txt"), "213 10\r\n")
  t.match(cmd(c, "SIZE /pub/none.txt"), "^550 ")
end)

t.test("a read-only user cannot write", function()
  local c = login("alice", "s3cret")
  t.match(cmd(c, "MKD new"), "^550 ")
  t.match(cmd(c, "DELE pub/hello.txt"), "^550 ")
end)

t.test("unknown and active-mode commands are answered", function()
  local c = login("anonymous", "x")
  t.match(cmd(c, "XYZZY"), "^500 ")
  t.match(cmd(c, "PORT 127,0,0,1,4,1"), "^502 ")
end)

t.test("RETR sends the file over the passive data connection", function()
  local c = login("anonymous", "x")
  local reply = cmd(c, "PASV")
  local p1, p2 = reply:match("^227 .*%(127,0,0,1,(%d+),(%d+)%)")
  t.ok(p1, "a PASV reply with an address: " .. reply)
  local ln = t.listeners()[1]
  t.eq(tonumber(p1) * 256 + tonumber(p2), ln.port)
  local d = t.connect(ln.class, { peer = "127.0.0.1:40002" })
  t.match(cmd(c, "RETR pub/hello.txt"), "^125 ")
  t.eq(d:output(), "hello ftp\n")
  t.ok(d.closed, "the data connection closes after the file")
  t.match(c:output(), "226 ")
  t.ok(ln.closed, "one data connection per PASV")
end)

t.test("a data connection from another host is refused", function()
  local c = login("anonymous", "x")
  cmd(c, "PASV")
  local d = t.connect(t.listeners()[1].class, { peer = "10.9.9.9:5000" })
  t.ok(d.refused)
end)

t.test("an idle session gets 421 after idle_timeout", function()
  local c = login("anonymous", "x")
  c:clear()
  t.advance(Site.idle_timeout)
  t.match(c:output(), "^421 ")
  t.ok(c.closed)
end)
