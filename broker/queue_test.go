package broker

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pocketlua/internal/brokertest"
)

// held is a worker whose loop runs nothing until released: what is
// posted to it waits, as for a loop stuck in a handler.
type held struct {
	mu    sync.Mutex
	tasks []func()
	got   []*Message
}

func (h *held) post(fn func()) {
	h.mu.Lock()
	h.tasks = append(h.tasks, fn)
	h.mu.Unlock()
}

func (h *held) deliver(batch []*Message) {
	h.mu.Lock()
	h.got = append(h.got, batch...)
	h.mu.Unlock()
}

// release runs what was posted.
func (h *held) release() {
	h.mu.Lock()
	tasks := h.tasks
	h.tasks = nil
	h.mu.Unlock()
	for _, fn := range tasks {
		fn()
	}
}

// TestPendingBytes: what waits for a stuck worker is bounded in bytes:
// of 100 messages of 1 MiB with an 8 MiB bound, 7 wait (each counts its
// topic and 128 bytes more) and 93 are dropped and counted; a message
// larger than the whole bound is still taken by an empty queue.
func TestPendingBytes(t *testing.T) {
	h := NewHub()
	h.SetPendingBytes(8 << 20)
	var stuck held
	w := h.Join(stuck.post, stuck.deliver)
	pub := h.Join(func(func()) {}, func([]*Message) {})
	w.Subscribed("t")
	big := strings.Repeat("x", 1<<20)
	for range 100 {
		pub.Publish("t", big, true, 0)
	}
	if st := h.Stats(); st.Dropped != 93 {
		t.Fatalf("dropped %d of 100 messages of 1 MiB for an 8 MiB queue, want 93", st.Dropped)
	}
	stuck.release()
	if len(stuck.got) != 7 {
		t.Fatalf("delivered %d, want 7", len(stuck.got))
	}
	// Emptied: the queue takes as much again.
	for range 10 {
		pub.Publish("t", big, true, 0)
	}
	stuck.release()
	if st := h.Stats(); len(stuck.got) != 14 || st.Dropped != 96 {
		t.Fatalf("after a delivery: %d delivered, %d dropped, want 14 and 96", len(stuck.got), st.Dropped)
	}

	h.SetPendingBytes(1000)
	pub.Publish("t", big, true, 0)
	pub.Publish("t", "small", true, 0)
	stuck.release()
	if len(stuck.got) != 15 || stuck.got[14].Data != big {
		t.Fatal("an empty queue refused a message larger than its bound")
	}
}

// TestRemoteQueueBytes: the queue to the broker is bounded in bytes as
// well as messages: a publish over either bound is dropped and counted
// at once; taking one out makes room.
func TestRemoteQueueBytes(t *testing.T) {
	b := newRemoteBase(NewHub(), "test://", Queue{Messages: 1000, Bytes: 8 << 20}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	big := &Message{Topic: "t", Data: strings.Repeat("x", 1<<20)}
	for range 100 {
		b.Publish(big)
	}
	if st := b.Stats(); st.Dropped != 93 || len(b.out) != 7 {
		t.Fatalf("%d dropped, %d queued, want 93 and 7", st.Dropped, len(b.out))
	}
	b.take(<-b.out)
	b.Publish(big)
	b.Publish(big)
	if st := b.Stats(); st.Dropped != 94 || len(b.out) != 7 {
		t.Fatalf("after one was taken: %d dropped, %d queued, want 94 and 7", st.Dropped, len(b.out))
	}
	for len(b.out) > 0 {
		b.take(<-b.out)
	}
	if q := b.queued.Load(); q != 0 {
		t.Fatalf("%d bytes counted in an empty queue", q)
	}
	small := newRemoteBase(NewHub(), "test://", Queue{Messages: 1000, Bytes: 1000}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	small.Publish(big)
	if len(small.out) != 1 {
		t.Fatal("an empty queue refused a message larger than its bound")
	}
}

// TestNATSInboundDrops: under NATS, what comes in while this process
// cannot take it is bounded by Queue.Messages and by Queue.Bytes, and
// every message beyond is counted as dropped: the receiving worker is
// held (and with it the goroutine handing messages to the hub, once it
// has the first of 100 messages another node publishes), and delivered
// plus dropped is exactly 100, the delivered ones the first, in order:
// the one handed on and what the queue holds. By bytes, a message
// counts as Message.Size does, and an empty queue still takes one
// larger than its bound. A flood of drops is logged once.
func TestNATSInboundDrops(t *testing.T) {
	inboundDrops(t, brokertest.StartNATS(t).URL)
}

// TestRedisInboundDrops is the same under Redis: go-redis's own channel
// is emptied at once into our bounded queue, so what finds that full is
// dropped and counted by this process (go-redis would drop only after a
// minute, uncounted, having stopped reading meanwhile).
func TestRedisInboundDrops(t *testing.T) {
	inboundDrops(t, brokertest.StartRedis(t).URL)
}

// logBuffer keeps what a logger writes, from any goroutine.
type logBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// inQueued is what r's inbound queue holds, in messages and bytes.
func inQueued(t *testing.T, r Remote) (int, int64) {
	switch r := r.(type) {
	case *natsRemote:
		return len(r.in.ch), r.in.bytes.Load()
	case *redisRemote:
		return len(r.in.ch), r.in.bytes.Load()
	}
	t.Fatalf("no inbound queue in %T", r)
	return 0, 0
}

func inboundDrops(t *testing.T, url string) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	const topic = "flood"
	// floodSize is what a message of data bytes on topic counts for.
	floodSize := func(data int) int64 { return (&Message{Topic: topic, Data: strings.Repeat("y", data)}).Size() }
	for _, tc := range []struct {
		name  string
		queue Queue
		size  int
		fit   int // messages the queue takes
	}{
		{"messages", Queue{Messages: 10}, 10, 10},
		{"bytes", Queue{Messages: 1000, Bytes: 7 * floodSize(64<<10)}, 64 << 10, 7},
		{"one larger than the bound", Queue{Messages: 1000, Bytes: 1000}, 64 << 10, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hub := NewHub()
			var holding atomic.Bool
			gate, held := make(chan struct{}), make(chan struct{}, 1)
			l := newLoop(t)
			recv := &node{hub: hub, loop: l}
			// Until holding, a normal loop; then a post waits for the gate,
			// and with it the goroutine handing messages to the hub.
			recv.w = hub.Join(func(fn func()) {
				if holding.Load() {
					held <- struct{}{}
					<-gate
				}
				l.post(fn)
			}, func(batch []*Message) {
				recv.mu.Lock()
				recv.got = append(recv.got, batch...)
				recv.mu.Unlock()
			})
			var logged logBuffer
			r, err := Dial(url, hub, tc.queue, slog.New(slog.NewTextHandler(&logged, nil))) // after the loop: closed before it
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(r.Close)
			recv.sub(topic)
			sender := newNode(t, NewHub())
			sr, err := Dial(url, sender.hub, Queue{}, log)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(sr.Close)
			publishUntil(t, sender, recv, topic)
			time.Sleep(50 * time.Millisecond) // the last probes' batches ran
			holding.Store(true)
			recv.mu.Lock()
			before := len(recv.got)
			recv.mu.Unlock()

			// The first message's handler posts to the held loop and
			// waits there; then the rest are queued or dropped.
			body := strings.Repeat("y", tc.size)
			const n = 100
			for i := range n {
				sender.w.Publish(topic, fmt.Sprintf("%03d%s", i, body[3:]), false, 0)
				if i == 0 {
					select {
					case <-held:
					case <-time.After(10 * time.Second):
						t.Fatal("the first message was not handed on in 10 s")
					}
				}
			}
			var queued int
			var bytes int64
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
				queued, bytes = inQueued(t, r)
				if int64(queued)+r.Stats().InDropped == n-1 {
					break // every message read: one handed on, the rest here
				}
				if time.Now().After(deadline) {
					t.Fatalf("after 10 s, %d queued and %d dropped of the %d not handed on", queued, r.Stats().InDropped, n-1)
				}
			}
			if queued != tc.fit || bytes != int64(queued)*floodSize(tc.size) {
				t.Fatalf("the queue holds %d messages counted as %d bytes, want %d of %d bytes each", queued, bytes, tc.fit, floodSize(tc.size))
			}
			holding.Store(false)
			close(gate)
			dropped := r.Stats().InDropped
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
				recv.mu.Lock()
				got := len(recv.got) - before
				recv.mu.Unlock()
				if int64(got)+dropped == n {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("delivered %d and dropped %d of %d", got, dropped, n)
				}
			}
			time.Sleep(100 * time.Millisecond) // nothing more comes
			recv.mu.Lock()
			got := recv.got[before:]
			recv.mu.Unlock()
			st := r.Stats()
			if int64(len(got))+st.InDropped != n || hub.Stats().Dropped != st.InDropped {
				t.Fatalf("delivered %d, dropped %d (the hub counts %d) of %d: want every message delivered or counted once", len(got), st.InDropped, hub.Stats().Dropped, n)
			}
			if len(got) != tc.fit+1 {
				t.Fatalf("delivered %d of %d, want %d: the one handed on and the queue's", len(got), n, tc.fit+1)
			}
			for i, m := range got {
				if m.Data[:3] != fmt.Sprintf("%03d", i) || len(m.Data) != tc.size {
					t.Fatalf("delivered %.3s (%d bytes) as message %d: want the first ones, in order", m.Data, len(m.Data), i)
				}
			}
			if queued, bytes := inQueued(t, r); queued != 0 || bytes != 0 {
				t.Fatalf("an emptied queue holds %d messages, %d bytes", queued, bytes)
			}
			if warnings := strings.Count(logged.String(), "messages from the broker dropped"); warnings != 1 {
				t.Fatalf("%d drops logged %d times, want once:\n%s", st.InDropped, warnings, logged.String())
			}
		})
	}
}

// TestOwnEcho: the brokers' readers drop this node's own messages from
// the envelope's head alone, payload as string (Redis) or bytes (NATS),
// and nothing else: another node's, a payload too short, or one that is
// not an envelope.
func TestOwnEcho(t *testing.T) {
	hub := NewHub()
	mine := string(encode(&Message{Topic: "t", Data: "x", Node: hub.node, Worker: 1, Seq: 1}))
	other := string(encode(&Message{Topic: "t", Data: "x", Node: hub.node ^ 2, Worker: 1, Seq: 1}))
	if !ownEcho(hub.node, mine) || !ownEcho(hub.node, []byte(mine)) {
		t.Error("this node's message not recognised")
	}
	for _, p := range []string{other, mine[:envelopeHead-1], "q" + mine[1:], ""} {
		if ownEcho(hub.node, p) || ownEcho(hub.node, []byte(p)) {
			t.Errorf("%q taken for this node's own message", p)
		}
	}
}

// TestPayloadSize: a payload from the broker counts as the message it
// decodes to counts going out, whatever its topic and data; a payload too
// short to be an envelope counts the overhead alone, never less.
func TestPayloadSize(t *testing.T) {
	for _, m := range []*Message{{Topic: "t"}, {Topic: "room.42", Data: "hello"}, {Topic: strings.Repeat("x", MaxTopic), Data: strings.Repeat("y", 70000)}} {
		if got := payloadSize(len(encode(m))); got != m.Size() {
			t.Errorf("topic of %d bytes, data of %d: payload counts %d, the message %d", len(m.Topic), len(m.Data), got, m.Size())
		}
	}
	for _, n := range []int{0, 1, envelopeHead - 1} {
		if got := payloadSize(n); got != messageOverhead {
			t.Errorf("a payload of %d bytes counts %d, want %d", n, got, messageOverhead)
		}
	}
}
