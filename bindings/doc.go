// Package bindings is the Lua face of the engine: the `conn` userdata, the
// timer and listener objects, and the modules `server`, `log`, `ws`,
// `http`, `fs` and `json`, written in gopher-lua's
// idiom (a Loader per module, a type metatable per Go type, arguments checked
// with L.Check*). It holds no policy: every call goes to the small interfaces
// below, which the engine implements, so this package never imports engine.
package bindings
