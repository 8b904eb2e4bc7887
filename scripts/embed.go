// Package scripts embeds the Lua batteries so the binary works from any
// directory: require finds them after the script's own folder and -I folders.
package scripts

import "embed"

// FS holds every battery, by file name (websocket.lua, echo.lua, ...).
//
//go:embed *.lua
var FS embed.FS
