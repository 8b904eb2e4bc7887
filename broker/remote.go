package broker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// The states of a Remote, as server.on_broker and server.stats() name them.
const (
	StateNone       = "none"       // no --broker: the hub alone
	StateConnecting = "connecting" // never connected yet
	StateUp         = "up"
	StateDown       = "down" // lost; retrying with backoff
)

// DefaultQueue is how many publishes wait for the broker, and how many
// messages from it wait for the workers, before more are dropped.
const DefaultQueue = 65536

// DefaultQueueBytes bounds the same queues in bytes: a flood of large
// messages must not hold gigabytes while the broker, or this process, is
// slow.
const DefaultQueueBytes = 64 << 20

// Queue bounds what waits for the broker, each way: the publishes going
// out, and the messages coming in before they are handed to the
// workers, in messages and in bytes (Message.Size). Zero fields take the
// defaults. A queue always takes one message, whatever its size.
type Queue struct {
	Messages int
	Bytes    int64
}

func (q Queue) withDefaults() Queue {
	if q.Messages <= 0 {
		q.Messages = DefaultQueue
	}
	if q.Bytes <= 0 {
		q.Bytes = DefaultQueueBytes
	}
	return q
}

// RemoteStats are a Remote's counters.
type RemoteStats struct {
	URL         string // without credentials
	State       string
	Sent        int64     // messages the broker took
	Received    int64     // messages from the broker (other nodes', before duplicates are dropped)
	Dropped     int64     // publishes dropped: the queue was full or the broker down
	InDropped   int64     // messages from the broker dropped: the inbound queue (Queue.Messages or Queue.Bytes) was full
	LastMessage time.Time // last sent or received; zero: none yet
}

// Dial makes the Remote a URL names (nats://, tls://, redis://, rediss://)
// and joins it to hub. It returns at once: the connection is made, and
// remade after every loss, by the Remote's own goroutines. Only a URL
// that cannot work is an error.
func Dial(rawURL string, hub *Hub, queue Queue, log *slog.Logger) (Remote, error) {
	u, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	base := newRemoteBase(hub, redact(u), queue, log)
	var r Remote
	switch u.Scheme {
	case "nats", "tls":
		r, err = dialNATS(rawURL, base)
	case "redis", "rediss":
		r, err = dialRedis(rawURL, base)
	}
	if err != nil {
		return nil, fmt.Errorf("--broker %s: %w", base.url, err)
	}
	hub.SetRemote(r)
	return r, nil
}

// CheckURL reports what makes a broker URL unusable, without connecting.
func CheckURL(rawURL string) error {
	u, err := parseURL(rawURL)
	if err == nil && (u.Scheme == "redis" || u.Scheme == "rediss") {
		if c, rerr := redisClient(rawURL); rerr != nil {
			err = fmt.Errorf("--broker %s: %w", redact(u), rerr)
		} else {
			c.Close()
		}
	}
	return err
}

func parseURL(rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("--broker %q: %w", rawURL, err)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("--broker %q: no host (want nats://host:port or redis://host:port/db)", rawURL)
	}
	switch u.Scheme {
	case "nats", "tls", "redis", "rediss":
	default:
		return nil, fmt.Errorf("--broker %q: unknown scheme %q (want nats://host:port or redis://host:port/db)", rawURL, u.Scheme)
	}
	return u, nil
}

func redact(u *url.URL) string {
	c := *u
	if c.User != nil {
		c.User = url.User("xxx")
	}
	return c.String()
}

// remoteBase is what the NATS and Redis adapters share: the bounded
// outgoing queue, the subscription requests handed to their I/O
// goroutine, the state and the counters.
type remoteBase struct {
	hub *Hub
	url string
	log *slog.Logger
	out chan *Message
	// queue's limits; queued is the bytes in out.
	queue  Queue
	queued atomic.Int64

	opsMu sync.Mutex
	ops   []subOp
	opsCh chan struct{} // a signal: ops has work

	state                   atomic.Pointer[string]
	sent, received, dropped atomic.Int64
	last                    atomic.Int64 // unix nanoseconds of the last message
	foreign                 atomic.Int64 // payloads that were not our envelope
	presence                presenceQueue
	done                    chan struct{}
	closeOnce               sync.Once
}

type subOp struct {
	topic string
	add   bool
}

func newRemoteBase(hub *Hub, url string, queue Queue, log *slog.Logger) *remoteBase {
	queue = queue.withDefaults()
	b := &remoteBase{hub: hub, url: url, log: log, out: make(chan *Message, queue.Messages), queue: queue, opsCh: make(chan struct{}, 1), done: make(chan struct{})}
	s := StateConnecting
	b.state.Store(&s)
	return b
}

// Publish queues m; a full queue, in messages or bytes, drops it.
func (b *remoteBase) Publish(m *Message) {
	size := m.Size()
	if !admit(&b.queued, size, b.queue.Bytes) {
		b.dropped.Add(1)
		return
	}
	select {
	case b.out <- m:
	default:
		b.queued.Add(-size)
		b.dropped.Add(1)
	}
}

// take is the I/O goroutine's receipt of m from the queue.
func (b *remoteBase) take(m *Message) *Message {
	b.queued.Add(-m.Size())
	return m
}

func (b *remoteBase) Subscribe(topic string)   { b.op(subOp{topic, true}) }
func (b *remoteBase) Unsubscribe(topic string) { b.op(subOp{topic, false}) }

func (b *remoteBase) op(o subOp) {
	b.opsMu.Lock()
	b.ops = append(b.ops, o)
	b.opsMu.Unlock()
	select {
	case b.opsCh <- struct{}{}:
	default:
	}
}

// takeOps returns the subscription changes asked for since the last call.
func (b *remoteBase) takeOps() []subOp {
	b.opsMu.Lock()
	defer b.opsMu.Unlock()
	ops := b.ops
	b.ops = nil
	return ops
}

// setState records a change of state, logs it and tells the hub.
func (b *remoteBase) setState(s string, err error) {
	if b.closing() {
		return // the process is stopping: a closed connection is no outage
	}
	if old := b.state.Swap(&s); *old == s {
		return
	}
	attrs := []any{"broker", b.url, "state", s}
	if err != nil {
		attrs = append(attrs, "err", err.Error())
	}
	if s == StateUp {
		b.log.Info("broker up", attrs...)
	} else {
		b.log.Warn("broker "+s, attrs...)
	}
	b.hub.brokerState(s)
}

func (b *remoteBase) State() string { return *b.state.Load() }

func (b *remoteBase) Stats() RemoteStats {
	st := RemoteStats{URL: b.url, State: b.State(), Sent: b.sent.Load(), Received: b.received.Load(), Dropped: b.dropped.Load()}
	if ns := b.last.Load(); ns != 0 {
		st.LastMessage = time.Unix(0, ns)
	}
	return st
}

func (b *remoteBase) touch() { b.last.Store(time.Now().UnixNano()) }

// receive decodes a payload from the broker and hands it to the hub.
func (b *remoteBase) receive(payload []byte) {
	m, err := decode(payload)
	if err != nil {
		// Another program publishing on the same names: say it once, not
		// once per message.
		if b.foreign.Add(1) == 1 {
			b.log.Warn("broker: ignoring messages not published by pocketlua (logged once)", "broker", b.url, "bytes", len(payload))
		}
		return
	}
	if m.Node == b.hub.node {
		return // our own, back from the broker: the hub delivered it already
	}
	b.received.Add(1)
	b.touch()
	b.hub.Receive(m)
}

func (b *remoteBase) closing() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

// backoff is the wait before retry n (from 0): doubling from 50 ms to 1 s,
// so a broker that comes back is found within about a second.
func backoff(n int) time.Duration {
	if n > 5 {
		return time.Second
	}
	return min(50*time.Millisecond<<n, time.Second)
}

// The envelope: 'p', flags (bit 0: binary), node (8 bytes), worker (4),
// seq (8), the topic's length (1) and the topic, then the data.
const envelopeHead = 1 + 1 + 8 + 4 + 8 + 1

// EnvelopeSize is what the envelope adds to a message on a topic.
func EnvelopeSize(topic string) int { return envelopeHead + len(topic) }

func encode(m *Message) []byte {
	b := make([]byte, envelopeHead, envelopeHead+len(m.Topic)+len(m.Data))
	b[0] = 'p'
	if m.Binary {
		b[1] = 1
	}
	binary.BigEndian.PutUint64(b[2:], m.Node)
	binary.BigEndian.PutUint32(b[10:], uint32(m.Worker))
	binary.BigEndian.PutUint64(b[14:], m.Seq)
	b[22] = byte(len(m.Topic))
	b = append(b, m.Topic...)
	return append(b, m.Data...)
}

var errEnvelope = errors.New("bad envelope")

// ownEcho reports whether payload p is node's own message back from the
// broker, reading only the envelope's head.
func ownEcho[P string | []byte](node uint64, p P) bool {
	if len(p) < envelopeHead || p[0] != 'p' {
		return false
	}
	return binary.BigEndian.Uint64([]byte(p[2:10])) == node
}

func decode(p []byte) (*Message, error) {
	if len(p) < envelopeHead || p[0] != 'p' || len(p) < envelopeHead+int(p[22]) {
		return nil, errEnvelope
	}
	n := envelopeHead + int(p[22])
	m := &Message{
		Binary: p[1]&1 != 0,
		Node:   binary.BigEndian.Uint64(p[2:]),
		Worker: int32(binary.BigEndian.Uint32(p[10:])),
		Seq:    binary.BigEndian.Uint64(p[14:]),
		Topic:  string(p[envelopeHead:n]),
		Data:   string(p[n:]),
	}
	if CheckTopic(m.Topic, false) != nil {
		return nil, errEnvelope
	}
	return m, nil
}
