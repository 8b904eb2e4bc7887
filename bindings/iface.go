package bindings

import (
	"time"

	lua "github.com/yuin/gopher-lua"
)

// Conn is the connection a `conn` userdata drives.
type Conn interface {
	ID() int64
	FD() int
	Peer() string
	LocalAddr() string
	Version() int
	// Mode is "raw" or "websocket".
	Mode() string
	// Send queues one raw write, or in WebSocket mode one message of kind
	// "text" or "binary". It reports false above the high-water mark.
	Send(data string, kind string) (bool, error)
	Ping(payload string) (bool, error)
	// Close ends the connection; code and reason matter in WebSocket mode.
	Close(code int, reason string) error
	Buffered() int
	Pause()
	Resume()
	Open() bool
	After(d time.Duration, fn *lua.LFunction) Timer
	// Upgrade switches to a framing mode; leftover is input that arrived
	// after the handshake and must be decoded first.
	Upgrade(mode string, opts *lua.LTable, leftover string) error
}

// Timer is a pending callback that a script may cancel.
type Timer interface {
	Cancel() bool
	Pending() bool
}

// Listener is a listening socket opened from Lua.
type Listener interface {
	Host() string
	Port() int
	Close()
}

// Server is the engine as the `server` module sees it.
type Server interface {
	// SocketBind opens a listener whose connections get class (the main
	// class when nil).
	SocketBind(host string, port int, class *lua.LTable) (Listener, error)
	// Connect starts an outbound TCP connection served by class and
	// returns its instance at once; start runs once it is connected, and
	// closed(nil, reason) if the attempt fails. timeout <= 0 takes the
	// default. An error means no attempt was made.
	Connect(host string, port int, class *lua.LTable, timeout time.Duration) (*lua.LTable, error)
	Connections() []*lua.LTable
	Count() int
	Broadcast(data, kind string, except Conn) (int, error)
	After(d time.Duration, fn *lua.LFunction, repeat bool) Timer
	Stats(L *lua.LState) *lua.LTable
	Version() int
	Shutdown()
	// State returns the named table shared across reloads, made from def
	// (or empty) on first use.
	State(name string, def *lua.LTable) *lua.LTable
	// ReloadFromLua reloads the scripts after the running handler returns.
	ReloadFromLua()
	// ScriptDir is the absolute folder of the main script (the working
	// directory for the embedded default).
	ScriptDir() string
	// Watch adds a file whose change reloads the server under --watch;
	// only while the main script loads.
	Watch(path string) error
}
