package engine

import (
	"io/fs"
	"log/slog"
	"net/netip"
	"time"

	"pocketlua/bindings"
	"pocketlua/broker"
	"pocketlua/poll"
	"pocketlua/sandbox"
	"pocketlua/shared"
	"pocketlua/transport"
)

// Config is everything the server needs; the CLI fills it from flags.
// Zero fields take the defaults named below.
type Config struct {
	Listen         []string      // host:port addresses (":port": AllInterfaces); default DefaultListen
	Script         string        // main script path; empty runs DefaultScript from Batteries
	DefaultScript  string        // battery run when Script is empty
	Batteries      fs.FS         // embedded scripts/ folder, searched by require last
	LuaPath        []string      // extra folders searched by require
	Poller         string        // "epoll" or "io_uring" (Linux only), "auto" (ResolvePoller), or "poll"; default DefaultPoller
	UringBuffers   int           // most io_uring receive buffers per worker; 0 is DefaultUringBuffers
	MaxConns       int           // open connections beyond which new ones are closed at once
	MaxQueuedBytes int           // per-connection output queue limit; the slow consumer is dropped
	HighWater      int           // queued bytes above which send returns false
	LowWater       int           // queued bytes at or below which drain fires
	HandlerTimeout time.Duration // longest a Lua handler may run; 0 means DefaultHandlerTimeout, NoHandlerTimeout none
	ShutdownGrace  time.Duration // how long shutdown waits for connections to finish
	CloseTimeout   time.Duration // how long a WebSocket close waits for the peer's close
	MaxMessage     int64         // WebSocket message limit (per-connection option can lower it)
	MaxFrame       int64         // WebSocket frame limit; 0 means MaxMessage
	MaxString      int64         // longest string one library call may build (string.rep, ...); 0 means DefaultMaxString
	MaxMemory      int64         // Go heap above which the running handler is interrupted; 0: no cap
	MaxSyntaxDepth int           // deepest nesting loadstring & co. compile; 0 means DefaultMaxSyntaxDepth
	ReadBuffer     int           // the loop's read buffer
	Watch          bool          // reload when a script or project module changes
	ReusePort      bool          // SO_REUSEPORT on listeners, so several workers share a port
	Worker         int           // this loop's number among --workers (1-based), for stats
	SSHMaxConns    int           // SSH connections per worker beyond which new ones are closed
	// Unauthenticated SSH connections, like sshd's MaxStartups
	// begin:rate:full: past begin, rate% of new ones are dropped, rising
	// linearly to all of them at full.
	SSHStartupsBegin, SSHStartupsRate, SSHStartupsFull int
	SSHLoginGrace                                      time.Duration // time to authenticate, like sshd's LoginGraceTime
	Logger                                             *slog.Logger

	// TLS on the Listen listeners (docs/TLS.md); nil serves plaintext only.
	TLS                 *transport.TLS
	TLSRequired         bool          // refuse plaintext on them
	TLSHandshakeTimeout time.Duration // from the first byte (accept under TLSRequired) to the handshake's end
	TLSStartups         Startups      // handshakes in flight per worker, dropped like sshd's MaxStartups

	// PROXY protocol on the Listen listeners (docs/TLS.md): every
	// connection must come from ProxyFrom and start with a v1 or v2 header.
	ProxyProtocol      bool
	ProxyFrom          []netip.Prefix // default: loopback
	ProxyHeaderTimeout time.Duration

	// Service and metrics (docs/SYSTEMD.md, docs/METRICS.md).
	ListenFDs    []int            // inherited listening sockets (systemd socket activation); when set, Listen is not bound
	Metrics      bindings.Metrics // where the scripts' metrics module defines metrics; nil: the module refuses
	TimeHandlers bool             // time every Lua handler call for the duration histograms (--metrics sets it)

	// Pub/sub (docs/SCALING.md).
	Hub              *broker.Hub // shared by the workers of a process; nil: a hub of this server's own
	MaxPublish       int         // largest message server.publish takes; 0 means DefaultMaxPublish
	MaxSubscriptions int         // subscriptions one connection may hold; 0 means DefaultMaxSubscriptions
	// The least time between two writes of deliveries to a subscriber,
	// so those it gets meanwhile leave in one write (poll.Config.FlushDelay);
	// 0: every delivery at the end of the loop's round.
	PublishFlushDelay time.Duration
	// server.shared's dictionaries, shared by the workers of a process;
	// nil: a registry of this server's own.
	Shared  *shared.Registry
	Workers int // how many workers the process runs (for server.state's warning)

	// The loop yields its CPU before it blocks (poll.Config.YieldBeforeWait).
	YieldBeforeWait bool
}

// Defaults.
const (
	DefaultListen         = "127.0.0.1:9002"
	DefaultPoller         = poll.PreferredPoller // auto on Linux (io_uring, else epoll), poll(2) elsewhere
	AllInterfaces         = "0.0.0.0"            // what an empty host in Config.Listen binds
	DefaultMaxConns       = 100000
	DefaultMaxQueuedBytes = poll.DefaultMaxQueued
	DefaultHighWater      = poll.DefaultHighWater
	DefaultLowWater       = poll.DefaultLowWater
	DefaultHandlerTimeout = 2 * time.Second
	// NoHandlerTimeout (any negative value) lets handlers run as long as
	// they like; --max-memory still interrupts them.
	NoHandlerTimeout           time.Duration = -1
	DefaultShutdownGrace                     = 5 * time.Second
	DefaultCloseTimeout                      = 3 * time.Second
	DefaultMaxMessage                        = 16 << 20
	DefaultMaxString                         = sandbox.DefaultMaxString
	DefaultMaxMemory                         = sandbox.DefaultMaxMemory
	DefaultMaxSyntaxDepth                    = sandbox.DefaultMaxSyntaxDepth
	DefaultSSHMaxConns                       = 1024
	DefaultSSHStartups                       = "10:30:100"
	DefaultSSHLoginGrace                     = 60 * time.Second
	DefaultTLSHandshakeTimeout               = 10 * time.Second
	DefaultTLSStartups                       = "1024:30:4096"
	DefaultProxyFrom                         = "127.0.0.0/8,::1/128"
	DefaultProxyHeaderTimeout                = 5 * time.Second
	// Below nats-server's default max_payload (1 MiB), leaving room for
	// the envelope (topic, node id, sequence).
	DefaultMaxPublish       = 1<<20 - 4<<10
	DefaultMaxSubscriptions = 100
	// The CLI's --publish-flush-delay: a subscriber gets at most 200
	// writes a second, and one that gets fewer is not delayed at all
	// (docs/PERFORMANCE.md).
	DefaultPublishFlushDelay = 5 * time.Millisecond
)

// DefaultUringBuffers is the most receive buffers a worker posts with
// --poller io_uring.
const DefaultUringBuffers = poll.DefaultUringBuffers

func (c *Config) setDefaults() {
	if len(c.Listen) == 0 {
		c.Listen = []string{DefaultListen}
	}
	if c.Poller == "" {
		c.Poller = DefaultPoller
	}
	if c.MaxConns <= 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.MaxQueuedBytes <= 0 {
		c.MaxQueuedBytes = DefaultMaxQueuedBytes
	}
	if c.HandlerTimeout == 0 {
		c.HandlerTimeout = DefaultHandlerTimeout
	}
	if c.ShutdownGrace <= 0 {
		c.ShutdownGrace = DefaultShutdownGrace
	}
	if c.CloseTimeout <= 0 {
		c.CloseTimeout = DefaultCloseTimeout
	}
	if c.MaxMessage <= 0 {
		c.MaxMessage = DefaultMaxMessage
	}
	if c.MaxFrame <= 0 {
		c.MaxFrame = c.MaxMessage
	}
	if c.SSHMaxConns <= 0 {
		c.SSHMaxConns = DefaultSSHMaxConns
	}
	if c.SSHStartupsFull <= 0 {
		c.SSHStartupsBegin, c.SSHStartupsRate, c.SSHStartupsFull = 10, 30, 100
	}
	if c.SSHLoginGrace <= 0 {
		c.SSHLoginGrace = DefaultSSHLoginGrace
	}
	if c.TLSHandshakeTimeout <= 0 {
		c.TLSHandshakeTimeout = DefaultTLSHandshakeTimeout
	}
	if c.TLSStartups.Full <= 0 {
		c.TLSStartups = Startups{Begin: 1024, Rate: 30, Full: 4096}
	}
	if len(c.ProxyFrom) == 0 {
		c.ProxyFrom = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	}
	if c.ProxyHeaderTimeout <= 0 {
		c.ProxyHeaderTimeout = DefaultProxyHeaderTimeout
	}
	if c.MaxPublish <= 0 {
		c.MaxPublish = DefaultMaxPublish
	}
	if c.MaxSubscriptions <= 0 {
		c.MaxSubscriptions = DefaultMaxSubscriptions
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}
