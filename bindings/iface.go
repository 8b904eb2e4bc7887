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
	// after the handshake and must be decoded first. opts may be nil.
	Upgrade(mode string, opts *UpgradeOptions, leftover string) error
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
	Stats() Stats
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

// Stats are the counters server.stats() returns, one field per key.
type Stats struct {
	Connections      int    // open connections
	Descriptors      int    // descriptors the loop holds (closing ones too)
	Accepted         int64  // connections accepted
	Refused          int64  // refused by accept returning false
	OverLimit        int64  // closed at once over --max-conns or during shutdown
	Outbound         int64  // server.connect attempts that got a socket
	MessagesIn       int64  // WebSocket messages received
	MessagesOut      int64  // WebSocket messages sent
	BytesIn          int64  // bytes read
	BytesOut         int64  // bytes queued for writing
	LuaErrors        int64  // handlers that failed
	Timeouts         int64  // handlers interrupted by --handler-timeout
	MemoryInterrupts int64  // handlers interrupted by --max-memory
	Goroutines       int    // in the process
	HeapBytes        uint64 // live heap after the last collection
	Version          int    // script version (1 + successful reloads)
	Reloads          int64  // successful reloads
	Uptime           time.Duration
	Poller           string // "epoll", "io_uring" or "poll"
	Worker           int    // this loop's number among --workers (1-based)

	SSHConnections     int   // SSH connections open (ssh.lua)
	SSHUnauthenticated int   // of them, not logged in yet
	SSHAccepted        int64 // SSH connections taken on
	SSHDropped         int64 // refused over --ssh-max-conns or --ssh-max-startups
	SSHGraceTimeouts   int64 // closed after --ssh-login-grace without a login
	SSHAuthFailures    int64 // failed authentication attempts
	Observed                 // finer counters for /metrics (observed.go)

	TLS    TLSCounters   // the --tls-* listeners (tls.go)
	Proxy  ProxyCounters // --proxy-protocol (tls.go)
	PubSub PubSubStats   // topics (docs/LUA_API.md 15)

	Uring UringStats // --poller io_uring's receive buffers
}

// UringStats is an io_uring loop's ring of provided receive buffers; all
// zero on other pollers, and on io_uring without completion I/O.
type UringStats struct {
	Buffers     int   // the buffers it keeps posted now
	BuffersPeak int   // the most it kept posted since the start
	BuffersMax  int   // the most it may: --uring-buffers
	Grown       int64 // times it doubled, receives having run it dry
	Shrunk      int64 // times it fell back after low use
}

// PubSubStats count topics: this worker's, and the process's hub.
type PubSubStats struct {
	Subscriptions int   // held by this worker's connections
	Published     int64 // server.publish calls in this worker
	Delivered     int64 // messages written (or handed to published) to this worker's subscribers
	Dropped       int64 // process: deliveries dropped for a worker too far behind, or for one subscriber (docs/METRICS.md)
	Received      int64 // process: messages from other processes through the broker

	// The process's broker (--broker): "none", "connecting", "up" or "down".
	Broker                                    string
	BrokerSent, BrokerReceived, BrokerDropped int64
	BrokerIdle                                time.Duration // since the last message sent or received; -1: none yet

	// Held counts this worker's subscribers made to wait
	// --publish-flush-delay, so that what came meanwhile left in one write.
	Held int64
}
