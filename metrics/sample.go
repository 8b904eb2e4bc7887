package metrics

import "time"

// Worker is one event loop as the metrics server sees it.
type Worker interface {
	// Sample copies the loop's counters on the loop; it fails when the
	// loop does not answer within timeout.
	Sample(timeout time.Duration) (Sample, error)
}

// Count is one labelled counter value.
type Count struct {
	Label string
	Value int64
}

// Histogram is one labelled histogram: Counts[i] holds the observations
// at or below Bounds[i] and above the bound before; the last slot (one
// more than Bounds) those beyond every bound.
type Histogram struct {
	Label  string
	Bounds []float64
	Counts []uint64
	Sum    float64
}

// Sample is one worker's counters at one instant.
type Sample struct {
	Open          int     // connections open
	Descriptors   int     // descriptors the loop holds, closing ones too
	Listeners     int     // listening sockets
	Accepted      int64   // connections accepted
	Outbound      int64   // server.connect attempts that got a socket
	Refused       []Count // by reason
	Closed        []Count // by cause
	BytesIn       []Count // by protocol
	BytesOut      []Count
	MessagesIn    []Count
	MessagesOut   []Count
	Handlers      []Histogram // by event, in seconds
	Interrupted   []Count     // handlers interrupted, by limit
	LuaErrors     int64       // handlers that failed with a Lua error
	ReloadsOK     int64
	ReloadsFailed int64
	ReloadPause   Histogram // seconds
	QueuedBytes   int64     // output queued on open connections
	HTTPResponses []Count   // by status class
	ScriptVersion int
	ShuttingDown  bool

	// ssh.lua's connections (docs/METRICS.md).
	SSHOpen, SSHUnauthenticated                                int
	SSHAccepted, SSHDropped, SSHGraceTimeouts, SSHAuthFailures int64

	// TLS on the --listen ports (docs/TLS.md).
	TLSHandshakes                   []Count // by result
	TLSDropped, TLSPlaintextRefused int64
	TLSInFlight                     int
	ProxyRefused                    []Count // by reason
	// Topics (docs/METRICS.md).
	PubSubSubscriptions              int
	PubSubPublished, PubSubDelivered int64
	PubSubHeld                       int64 // subscribers' writes held for --publish-flush-delay

	// The io_uring receive buffer ring; 0 on other pollers (docs/METRICS.md).
	UringBuffers, UringBuffersPeak, UringBuffersMax int
	UringGrown, UringShrunk                         int64
}
