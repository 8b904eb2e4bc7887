package broker

import (
	"errors"
	"io"
	"log/slog"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"pocketlua/internal/brokertest"
)

// presenceOf asks hub for topic's count until it is want over nodes
// processes (the broker's view settles within a heartbeat).
func presenceOf(t *testing.T, hub *Hub, topic string, want, nodes int) {
	t.Helper()
	var total, n int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		got := make(chan struct{})
		if err := hub.Presence(topic, func(c int, ids []string) { total, n = c, len(ids); close(got) }); err != nil {
			t.Fatal(err)
		}
		select {
		case <-got:
		case <-time.After(5 * time.Second):
			t.Fatal("a presence query was never answered")
		}
		if total == want && n == nodes {
			return
		}
	}
	t.Fatalf("presence %s: %d over %d nodes, want %d over %d", topic, total, n, want, nodes)
}

// TestPresence on every broker: two processes (the first with two
// workers) count 3 subscriptions to p over 2 nodes. Under Redis the
// heartbeat that writes a node's counts starts only once some node asks:
// before, nothing is written; after, the other node runs it too, and a
// node that joins later starts it at once.
func TestPresence(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, kind := range []string{"nats", "redis", "redis-sentinel", "redis-cluster"} {
		t.Run(kind, func(t *testing.T) {
			var url string
			var plain *brokertest.Server
			switch kind {
			case "redis-sentinel":
				url = brokertest.StartSentinel(t, brokertest.StartRedis(t)).URL
			case "redis-cluster":
				url = brokertest.StartRedisCluster(t)
			default:
				plain = brokertest.Start(t, kind)
				url = plain.URL
			}
			join := func() (*Hub, Remote, *node) {
				h := NewHub()
				n := newNode(t, h)
				r, err := Dial(url, h, Queue{}, log)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(r.Close)
				waitUp(t, r)
				return h, r, n
			}
			ha, ra, a := join()
			a.sub("p")
			newNode(t, ha).sub("p") // a second worker
			_, rb, b := join()
			b.sub("p")
			if kind == "redis" {
				time.Sleep(1500 * time.Millisecond) // a heartbeat's interval, and more
				if keys := redisKeys(t, plain.Port); keys != "" {
					t.Fatalf("presence written before any query: %q", keys)
				}
			}
			presenceOf(t, ha, "p", 3, 2)
			presenceOf(t, ha, "none", 0, 0)
			if kind == "nats" {
				return
			}
			if !rb.(*redisRemote).heartbeatOn.Load() || !ra.(*redisRemote).heartbeatOn.Load() {
				t.Fatal("a query did not start every node's heartbeat")
			}
			if kind == "redis" {
				if keys := redisKeys(t, plain.Port); !strings.Contains(keys, "pocketlua:presence:p") {
					t.Fatalf("no presence hash after a query: %q", keys)
				}
			}
			_, _, c := join()
			c.sub("p")
			presenceOf(t, ha, "p", 4, 3)
		})
	}
}

func waitUp(t *testing.T, r Remote) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); r.Stats().State != StateUp; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("broker state %s after 10 s", r.Stats().State)
		}
	}
}

// redisKeys lists pocketlua's keys with redis-cli.
func redisKeys(t *testing.T, port int) string {
	t.Helper()
	out, err := exec.Command("redis-cli", "-p", strconv.Itoa(port), "--scan", "--pattern", "pocketlua:*").CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestPresenceBusy: queries wait in one bounded queue: asked far more
// often than it holds while a round trip is out, presence refuses with
// ErrPresenceBusy, and every query it took is answered exactly once.
func TestPresenceBusy(t *testing.T) {
	url := brokertest.StartNATS(t).URL
	h := NewHub()
	newNode(t, h).sub("p")
	r, err := Dial(url, h, Queue{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	waitUp(t, r)
	var answered atomic.Int64
	taken, busy := 0, 0
	const n = 4 * MaxPresence
	for range n {
		err := h.Presence("p", func(total int, _ []string) {
			if total == 1 {
				answered.Add(1)
			}
		})
		switch {
		case err == nil:
			taken++
		case errors.Is(err, ErrPresenceBusy):
			busy++
		default:
			t.Fatal(err)
		}
	}
	// A round trip waits PresenceWait: few batches left the queue while
	// the loop above ran.
	if busy == 0 {
		t.Fatalf("all %d queries taken, none refused", n)
	}
	for deadline := time.Now().Add(10 * time.Second); answered.Load() < int64(taken); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d queries answered", answered.Load(), taken)
		}
	}
	time.Sleep(2 * PresenceWait)
	if got := answered.Load(); got != int64(taken) {
		t.Fatalf("%d answers to %d queries", got, taken)
	}
	if !strings.Contains(ErrPresenceBusy.Error(), "256 queries are waiting") {
		t.Fatal(ErrPresenceBusy)
	}
}
