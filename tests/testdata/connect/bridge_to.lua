-- bridge_to.lua (a template: the backend, host:port): scripts/examples/bridge.lua
-- towards the test's backend, with a short connect timeout. (Named so as
-- not to shadow the module it requires.)
local Bridge = require "bridge"
return Bridge:extend({ backend = "{{.}}", connect_timeout = 2 })
