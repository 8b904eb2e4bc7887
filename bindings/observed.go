package bindings

import "time"

// The vocabulary of the finer counters each loop keeps for /metrics
// (docs/METRICS.md). The loop bumps plain array slots indexed by these
// constants: no map, no lock on the data path.

// Protocol is what a connection speaks, for the traffic counters: the
// class's `metrics_protocol` field ("raw", "http", "ftp", "websocket"; anything
// else counts as other), and websocket once the connection upgraded.
type Protocol uint8

const (
	ProtoRaw Protocol = iota
	ProtoWebSocket
	ProtoHTTP
	ProtoFTP
	ProtoOther
	NumProtocols
)

// ProtocolNames are the protocol label values.
var ProtocolNames = [NumProtocols]string{"raw", "websocket", "http", "ftp", "other"}

// ProtocolOf maps a class's metrics_protocol field to a Protocol.
func ProtocolOf(name string) Protocol {
	for i, n := range ProtocolNames[:ProtoOther] {
		if n == name {
			return Protocol(i)
		}
	}
	return ProtoOther
}

// CloseCause is why a connection ended.
type CloseCause uint8

const (
	CloseScript         CloseCause = iota // conn:close from the script
	ClosePeer                             // the peer closed (FIN, or a WebSocket close frame)
	CloseTimeout                          // a script closed it as idle or timed out (reason "idle" or containing "timeout")
	CloseSlowConsumer                     // its output queue passed --max-queued-bytes
	CloseLuaError                         // a handler failed
	CloseHandlerTimeout                   // a handler ran past --handler-timeout
	CloseMemoryLimit                      // a handler was interrupted by --max-memory
	CloseShutdown                         // graceful shutdown
	CloseProtocolError                    // a WebSocket protocol violation (close 1002, 1007, 1009)
	CloseIOError                          // a socket error (connection reset, ...)
	NumCloseCauses
)

// CloseCauseNames are the cause label values.
var CloseCauseNames = [NumCloseCauses]string{"script", "peer", "timeout", "slow_consumer", "lua_error",
	"handler_timeout", "memory_limit", "shutdown", "protocol_error", "io_error"}

// HandlerNames are the handler kinds whose durations are timed: the class
// events in the engine's order, then timers, reloaded migrations and the
// ssh.lua callbacks (ssh_auth, ssh_open, ssh_data, ...).
var HandlerNames = [...]string{"accept", "start", "data", "message", "drain", "closed", "ping", "pong", "published", "timer", "reloaded", "ssh"}

// NumHandlers is len(HandlerNames).
const NumHandlers = len(HandlerNames)

// DurationBuckets are the fixed upper bounds of every duration histogram
// (handlers and reload pauses); one more slot counts what lies beyond.
var DurationBuckets = [...]time.Duration{
	10 * time.Microsecond, 25 * time.Microsecond, 50 * time.Microsecond, 100 * time.Microsecond,
	250 * time.Microsecond, 500 * time.Microsecond, time.Millisecond, 2500 * time.Microsecond,
	5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond, time.Second,
	2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

// Durations is a histogram over DurationBuckets: Counts[i] holds the
// observations in (bound i-1, bound i], the last slot those beyond.
type Durations struct {
	Counts [len(DurationBuckets) + 1]uint64
	Sum    time.Duration
}

// Observe adds one duration: a scan of fixed bounds, nothing allocated.
func (h *Durations) Observe(d time.Duration) {
	i := 0
	for i < len(DurationBuckets) && d > DurationBuckets[i] {
		i++
	}
	h.Counts[i]++
	h.Sum += d
}

// Observed are the counters behind /metrics that server.stats() leaves
// out: by protocol, by cause, by handler.
type Observed struct {
	BytesIn, BytesOut       [NumProtocols]int64
	MessagesIn, MessagesOut [NumProtocols]int64 // WebSocket messages; data() deliveries and sends otherwise
	Closed                  [NumCloseCauses]int64
	FDLimit                 int64 // accepts that failed for lack of descriptors (the peer waits in the backlog)
	ShutdownRefused         int64 // connections closed at once during shutdown
	Handlers                [NumHandlers]Durations
	ReloadsFailed           int64
	ReloadPause             Durations // successful and failed reloads
	HTTPResponses           [6]int64  // by status class: 1xx..5xx in [1..5], anything else in [0]
	QueuedBytes             int64     // output queued on open connections now (filled by the engine's Probe only)
	Listeners               int       // listening sockets now
	ShuttingDown            bool
}
