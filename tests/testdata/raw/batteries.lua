-- batteries.lua: the embedded tcp_echo battery, which itself requires
-- fatclient, found from anywhere.
local Echo = require "tcp_echo"
local FatClient = require "fatclient"
assert(Echo.super == FatClient, "tcp_echo should extend fatclient")
return Echo
