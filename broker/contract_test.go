package broker

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"pocketlua/internal/brokertest"
)

// node is one process's side in the contract: a hub with one worker,
// whose loop keeps what matches its subscriptions, as the engine does.
type node struct {
	hub  *Hub
	w    *Worker
	loop *loop
	mu   sync.Mutex
	subs []string
	got  []*Message
}

func newNode(t *testing.T, hub *Hub) *node {
	n := &node{hub: hub, loop: newLoop(t)}
	n.w = hub.Join(n.loop.post, func(batch []*Message) {
		n.mu.Lock()
		defer n.mu.Unlock()
		for _, m := range batch {
			if slices.ContainsFunc(n.subs, func(p string) bool { return Match(p, m.Topic) }) {
				n.got = append(n.got, m)
			}
		}
	})
	return n
}

func (n *node) sub(topic string) {
	n.mu.Lock()
	n.subs = append(n.subs, topic)
	n.mu.Unlock()
	n.w.Subscribed(topic)
}

func (n *node) unsub(topic string) {
	n.mu.Lock()
	n.subs = slices.DeleteFunc(n.subs, func(s string) bool { return s == topic })
	n.mu.Unlock()
	n.w.Unsubscribed(topic)
}

// messages returns what arrived, waiting until last (a Data) is among them.
func (n *node) until(t *testing.T, last string) []*Message {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		n.mu.Lock()
		got := slices.Clone(n.got)
		n.mu.Unlock()
		if slices.ContainsFunc(got, func(m *Message) bool { return m.Data == last }) {
			return got
		}
	}
	t.Fatalf("%q never arrived", last)
	return nil
}

// publishUntil publishes probes from `from` until `to` gets one: a
// broker's subscriptions take effect a little after Subscribed returns.
func publishUntil(t *testing.T, from, to *node, topic string) {
	t.Helper()
	for i := 0; i < 500; i++ {
		probe := fmt.Sprintf("probe %d", i)
		from.w.Publish(topic, probe, false, 0)
		time.Sleep(10 * time.Millisecond)
		to.mu.Lock()
		ok := slices.ContainsFunc(to.got, func(m *Message) bool { return m.Data == probe })
		to.mu.Unlock()
		if ok {
			return
		}
	}
	t.Fatalf("no probe on %s reached the other node", topic)
}

// pair makes two nodes: two workers of one hub, or two hubs joined by a
// real broker.
func pair(t *testing.T, kind string) (a, b *node) {
	if kind == "hub" {
		h := NewHub()
		return newNode(t, h), newNode(t, h)
	}
	var url string
	switch kind {
	case "redis-sentinel":
		url = brokertest.StartSentinel(t, brokertest.StartRedis(t)).URL
	case "redis-cluster":
		url = brokertest.StartRedisCluster(t)
	default:
		url = brokertest.Start(t, kind).URL
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var nodes [2]*node
	for i := range nodes {
		h := NewHub()
		nodes[i] = newNode(t, h) // first: its loop stops after the broker's goroutines
		r, err := Dial(url, h, Queue{}, log)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.Close)
	}
	return nodes[0], nodes[1]
}

// TestContract holds the hub and every broker to the same rules: every
// message to a subscriber once, each publisher's in order, patterns with
// NATS semantics, none of a node's own messages twice, nothing after
// unsubscribe.
func TestContract(t *testing.T) {
	for _, kind := range []string{"hub", "nats", "redis", "redis-sentinel", "redis-cluster"} {
		t.Run(kind, func(t *testing.T) {
			a, b := pair(t, kind)
			b.sub("c.x")
			b.sub("c.*") // overlaps c.x: still once
			b.sub("w")   // another topic from the same publisher, interleaved
			a.sub("c.x") // the publisher's own subscription
			publishUntil(t, a, b, "c.x")
			publishUntil(t, a, b, "c.y")
			publishUntil(t, a, b, "w")
			const n = 300
			for i := 1; i <= n; i++ {
				a.w.Publish("c.x", fmt.Sprint(i), i%2 == 0, 0)
				a.w.Publish("c.y.deep", "not for c.*", false, 0)
				a.w.Publish("w", fmt.Sprint(i), false, 0)
			}
			a.w.Publish("c.y", "end", false, 0)
			got := b.until(t, "end")
			var xs []string
			ws := 0
			for _, m := range got {
				if m.Topic == "w" && m.Data[0] != 'p' {
					if ws++; m.Data != fmt.Sprint(ws) {
						t.Fatalf("b got %s as message %d on w", m.Data, ws)
					}
				}
				if m.Topic == "c.x" && m.Data[0] != 'p' {
					xs = append(xs, m.Data)
					if m.Binary != (len(xs)%2 == 0) {
						t.Fatalf("message %s lost its kind", m.Data)
					}
				}
				if m.Topic == "c.y.deep" {
					t.Fatal("c.* matched c.y.deep")
				}
			}
			if len(xs) != n || ws != n {
				t.Fatalf("b got %d of %d messages on c.x, %d on w", len(xs), n, ws)
			}
			for i, x := range xs {
				if x != fmt.Sprint(i+1) {
					t.Fatalf("b got %s as message %d: want each once, in order", x, i+1)
				}
			}
			a.w.Publish("c.x", "own end", false, 0)
			var own int
			for _, m := range a.until(t, "own end") {
				if m.Data != "own end" && m.Data[0] != 'p' {
					own++
				}
			}
			if own != n {
				t.Fatalf("the publisher got %d of its own %d messages", own, n)
			}

			b.unsub("c.*")
			b.unsub("c.x")
			b.sub("d.z")
			publishUntil(t, a, b, "d.z")
			a.w.Publish("c.x", "after unsubscribe", false, 0)
			a.w.Publish("d.z", "marker", false, 0)
			for _, m := range b.until(t, "marker") {
				if m.Data == "after unsubscribe" {
					t.Fatal("delivered after unsubscribe")
				}
			}
		})
	}
}
