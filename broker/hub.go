package broker

import (
	"crypto/rand"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"
)

// Remote is a broker that joins the hubs of several processes (NATS,
// Redis). Its methods never block the caller on the network: I/O runs
// on the Remote's own goroutines, and what it receives it hands to
// Hub.Receive.
type Remote interface {
	// Publish queues m for the broker; a full queue drops it (counted).
	Publish(m *Message)
	// Subscribe and Unsubscribe change the process's interest in a topic
	// or pattern; the Hub calls them when the first worker subscribes
	// and when the last one leaves.
	Subscribe(topic string)
	Unsubscribe(topic string)
	Stats() RemoteStats
	Close()
}

// MaxPending is how many messages a worker's loop may have waiting before
// further deliveries to it are dropped (a loop stuck in a handler must
// not make the process hold every message for it).
const MaxPending = 1 << 16

// DefaultPendingBytes bounds the same in bytes (Message.Size): a flood of
// large messages must not hold gigabytes for a stuck loop.
const DefaultPendingBytes = 64 << 20

// Hub carries publishes between the workers of one process, and through
// its Remote, if any, to other processes.
type Hub struct {
	node uint64

	workers atomic.Pointer[[]*Worker] // copied on Join/Leave: a publish takes no lock to read it

	mu       sync.Mutex // Join, Leave and the interest below
	interest map[string]int
	remote   Remote                 // written under mu, read by Subscribed and Unsubscribed
	remoteAt atomic.Pointer[Remote] // the same, for Publish: no lock on the hot path
	lastSeq  map[origin]seen        // the highest Seq received from each publisher
	sweepAt  int                    // lastSeq's size that triggers dropping publishers long silent

	published, received, dropped, duplicates atomic.Int64
	brokerLimit                              atomic.Int64 // the largest data the broker takes, envelope aside; 0: no limit known

	pendingBytes int64 // each worker's queue limit in bytes (SetPendingBytes)
}

// SetPendingBytes bounds, in bytes, what waits for each worker's loop
// (0: DefaultPendingBytes); a worker always takes one message. Before
// the workers join.
func (h *Hub) SetPendingBytes(n int64) {
	if n <= 0 {
		n = DefaultPendingBytes
	}
	h.pendingBytes = n
}

// BrokerLimit is the largest message data the broker takes once the
// envelope is added (NATS's max_payload, read from the connection); 0
// when no broker has said.
func (h *Hub) BrokerLimit() int64 { return h.brokerLimit.Load() }

// NewHub makes a process's hub with a random node id.
// origin is a publishing worker of a process.
// seen is the last message from one publisher: a process restarted gets a
// new node id, so entries of the old one must not stay for ever.
type seen struct {
	seq uint64
	at  time.Time
}

const minSweep = 64

// silentFor: a second copy of a message never arrives this late (a
// variable for the tests).
var silentFor = 10 * time.Minute

// forgetSilent drops the publishers not heard from for silentFor, then
// waits for the map to double before looking again. Under h.mu.
func (h *Hub) forgetSilent(now time.Time) {
	for o, s := range h.lastSeq {
		if now.Sub(s.at) > silentFor {
			delete(h.lastSeq, o)
		}
	}
	h.sweepAt = max(2*len(h.lastSeq), minSweep)
}

type origin struct {
	node   uint64
	worker int32
}

func NewHub() *Hub {
	var b [8]byte
	rand.Read(b[:])
	h := &Hub{node: binary.LittleEndian.Uint64(b[:]) | 1, interest: make(map[string]int), lastSeq: make(map[origin]seen), sweepAt: minSweep,
		pendingBytes: DefaultPendingBytes}
	h.workers.Store(&[]*Worker{})
	return h
}

// Node is this process's id in every message it publishes.
func (h *Hub) Node() uint64 { return h.node }

// SetRemote joins the hub to a broker, subscribing to every topic some
// worker is subscribed to already.
func (h *Hub) SetRemote(r Remote) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.remote = r
	h.remoteAt.Store(&r)
	for t := range h.interest {
		r.Subscribe(t)
	}
}

// HubStats are the process-wide counters.
type HubStats struct {
	Published  int64 // messages published by this process
	Received   int64 // messages from other processes, through the broker
	Dropped    int64 // deliveries dropped: a worker's queue full (MaxPending, SetPendingBytes), the broker's inbound one (RemoteStats.InDropped), or one subscriber's (Worker.CountDropped)
	Duplicates int64 // second copies from the broker, dropped
}

func (h *Hub) Stats() HubStats {
	st := HubStats{Published: h.published.Load(), Received: h.received.Load(), Dropped: h.dropped.Load(), Duplicates: h.duplicates.Load()}
	if r := h.remoteAt.Load(); r != nil {
		st.Dropped += (*r).Stats().InDropped
	}
	return st
}

// Worker is one loop's membership of the hub.
type Worker struct {
	hub     *Hub
	number  int32
	post    func(func())
	deliver func([]*Message)
	onState atomic.Pointer[func(string)] // told of each change of the broker's state, on the loop
	subs    atomic.Int64                 // the worker's subscriptions: a worker with none is skipped
	seq     uint64                       // its publishes so far: only its loop publishes

	mu        sync.Mutex
	pending   []*Message
	pendingSz int64 // pending's bytes (Message.Size)
	spare     []*Message
	scheduled bool
	left      bool
}

// Join adds a worker. post runs a function on the worker's loop (safe
// from any goroutine, never blocking); deliver runs there with every
// message that arrived since the last batch, in publish order.
func (h *Hub) Join(post func(func()), deliver func([]*Message)) *Worker {
	h.mu.Lock()
	defer h.mu.Unlock()
	old := *h.workers.Load()
	w := &Worker{hub: h, number: int32(len(old) + 1), post: post, deliver: deliver}
	for _, x := range old {
		w.number = max(w.number, x.number+1)
	}
	all := append(old[:len(old):len(old)], w)
	h.workers.Store(&all)
	return w
}

// Leave takes the worker out; what is pending for it is dropped, and
// nothing is posted to its loop any more.
func (w *Worker) Leave() {
	h := w.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	var keep []*Worker
	for _, x := range *h.workers.Load() {
		if x != w {
			keep = append(keep, x)
		}
	}
	h.workers.Store(&keep)
	w.mu.Lock()
	w.left, w.pending, w.pendingSz = true, nil, 0
	w.mu.Unlock()
}

// Number is the worker's number in the hub (1-based).
func (w *Worker) Number() int32 { return w.number }

// CountDropped adds n deliveries the worker's loop dropped itself (a
// subscriber that could not take them) to the process's Dropped.
func (w *Worker) CountDropped(n int) { w.hub.dropped.Add(int64(n)) }

// Publish sends a message from this worker: to every worker of the
// process (this one too, in a later round of its loop) and to the remote
// broker. exceptConn (0: none) is a connection of this worker left out.
func (w *Worker) Publish(topic, data string, binary bool, exceptConn int64) {
	h := w.hub
	w.seq++
	m := &Message{Topic: topic, Data: data, Binary: binary, Node: h.node, Worker: w.number, Seq: w.seq, ExceptConn: exceptConn}
	h.published.Add(1)
	h.dispatch(m)
	if r := h.remoteAt.Load(); r != nil {
		(*r).Publish(m)
	}
}

// Receive takes a message from the broker: another node's, delivered to
// this process's workers once.
func (h *Hub) Receive(m *Message) {
	if m.Node == h.node {
		return
	}
	from := origin{m.Node, m.Worker}
	h.mu.Lock()
	now := time.Now()
	dup := m.Seq <= h.lastSeq[from].seq
	if !dup {
		h.lastSeq[from] = seen{m.Seq, now}
		if len(h.lastSeq) >= h.sweepAt {
			h.forgetSilent(now)
		}
	}
	h.mu.Unlock()
	if dup {
		h.duplicates.Add(1)
		return
	}
	h.received.Add(1)
	m.ExceptConn = 0 // another process's connection
	h.dispatch(m)
}

func (h *Hub) dispatch(m *Message) {
	for _, w := range *h.workers.Load() {
		if w.subs.Load() > 0 {
			w.enqueue(m)
		}
	}
}

// enqueue adds m to the worker's batch and posts the batch's delivery
// when it is the first message since the last one: one wake-up per
// batch, not per message.
func (w *Worker) enqueue(m *Message) {
	size := m.Size()
	w.mu.Lock()
	if w.left || len(w.pending) >= MaxPending || (w.pendingSz+size > w.hub.pendingBytes && len(w.pending) > 0) {
		w.mu.Unlock()
		w.hub.dropped.Add(1)
		return
	}
	w.pending = append(w.pending, m)
	w.pendingSz += size
	if !w.scheduled {
		w.scheduled = true
		// Under w.mu: once Leave returns, nothing posts to a loop that
		// may be closing its wake-up descriptor.
		w.post(w.run)
	}
	w.mu.Unlock()
}

// run delivers the batch on the worker's loop.
func (w *Worker) run() {
	w.mu.Lock()
	batch := w.pending
	w.pending, w.spare = w.spare[:0], nil
	w.pendingSz = 0
	w.scheduled = false
	w.mu.Unlock()
	w.deliver(batch)
	clear(batch)
	w.mu.Lock()
	if w.spare == nil && cap(batch) <= 1024 {
		w.spare = batch[:0]
	}
	w.mu.Unlock()
}

// Subscribed records one more subscription to topic in this worker; the
// process subscribes on the broker with the first.
func (w *Worker) Subscribed(topic string) {
	w.subs.Add(1)
	h := w.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	h.interest[topic]++
	if h.interest[topic] == 1 && h.remote != nil {
		h.remote.Subscribe(topic)
	}
}

// Unsubscribed records one subscription fewer; the process unsubscribes
// on the broker after the last.
func (w *Worker) Unsubscribed(topic string) {
	w.subs.Add(-1)
	h := w.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.interest[topic]--; h.interest[topic] <= 0 {
		delete(h.interest, topic)
		if h.remote != nil {
			h.remote.Unsubscribe(topic)
		}
	}
}

// Subscribers counts the process's subscriptions to exactly topic.
func (w *Worker) Subscribers(topic string) int {
	h := w.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.interest[topic]
}

// RemoteStats are the broker's counters; State is StateNone without one.
func (h *Hub) RemoteStats() RemoteStats {
	if r := h.remoteAt.Load(); r != nil {
		return (*r).Stats()
	}
	return RemoteStats{State: StateNone}
}

// Post runs fn on the worker's loop unless the worker has left.
func (w *Worker) Post(fn func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.left {
		w.post(fn)
	}
}

// OnBroker has fn run on the worker's loop at each change of the broker's
// state (server.on_broker).
func (w *Worker) OnBroker(fn func(state string)) { w.onState.Store(&fn) }

func (h *Hub) brokerState(s string) {
	for _, w := range *h.workers.Load() {
		if fn := w.onState.Load(); fn != nil {
			w.mu.Lock()
			if !w.left {
				w.post(func() { (*fn)(s) })
			}
			w.mu.Unlock()
		}
	}
}
