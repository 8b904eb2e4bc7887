// Package bindings is the Lua face of the engine: the `conn`, timer and
// listener userdata and the modules `server`, `log`, `ws`, `http`, `json`,
// `fs` and `metrics`, written in gopher-lua's idiom (a Loader per module,
// a type metatable per Go type, arguments checked with L.Check*). It is the one
// place where the engine's values meet Lua's: option tables are decoded
// here into Go structs (UpgradeOptions) and Go structs (Stats) become
// tables here. It holds no policy: every call goes to the small interfaces
// in iface.go, which the engine implements, so this package never imports
// engine.
package bindings
