package tests

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestPublishFlushDelayHoldsDeliveries: with --publish-flush-delay 1s,
// deliveries to a subscriber written to less than 1s ago
// wait in its queue (conn:buffered() counts them) instead of going out
// at the end of each round; its own answer, which does not wait, takes
// them along first, in the publisher's order. With 0 nothing waits.
// server.stats().pubsub_held and pocketlua_pubsub_held_total count the
// one wait (1 with the delay, 0 without).
func TestPublishFlushDelayHoldsDeliveries(t *testing.T) {
	for _, tc := range []struct {
		delay string
		held  bool
	}{{"1s", true}, {"0", false}} {
		t.Run("delay="+tc.delay, func(t *testing.T) {
			srv := startServer(t, "epoll", "--publish-flush-delay", tc.delay, "--metrics", "127.0.0.1:0", testdata(t, "pubsub/flush.lua"))
			sub := flushDial(t, srv.Addr, "/sub/room.a")
			pub := flushDial(t, srv.Addr, "/pub")
			// A write to the subscriber just before the publishes: they
			// come within the delay it starts.
			sub.send("buffered")
			if got := sub.next(); got != "buffered 0" {
				t.Fatalf("before publishing: %q", got)
			}
			const n = 5
			for i := 1; i <= n; i++ {
				pub.send(fmt.Sprintf("pub room.a m%d", i))
			}
			for range n {
				if got := pub.next(); got != "ok" {
					t.Fatalf("publish answered %q", got)
				}
			}
			awaitDelivered(t, pub, n)
			if !tc.held {
				// The deliveries went out with their rounds: read them
				// before asking, so the answer cannot race them.
				for i := 1; i <= n; i++ {
					if got := sub.next(); got != "m"+strconv.Itoa(i) {
						t.Fatalf("delivery %d: %q", i, got)
					}
				}
			}
			sub.send("buffered")
			want := []string{"m1", "m2", "m3", "m4", "m5", "buffered " + strconv.Itoa(n*(2+len("m1")))}
			if !tc.held {
				want = []string{"buffered 0"}
			}
			for _, w := range want {
				if got := sub.next(); got != w {
					t.Fatalf("got %q, want %q (all of %q in order)", got, w, want)
				}
			}
			held := 0
			if tc.held {
				held = 1
			}
			pub.send("held")
			if got, want := pub.next(), "held "+strconv.Itoa(held); got != want {
				t.Fatalf("server.stats(): %q, want %q", got, want)
			}
			m := scrape(t, metricsAddr(t, srv.Logs))
			if got := m.value(t, "pocketlua_pubsub_held_total", "worker=1"); got != float64(held) {
				t.Fatalf("pocketlua_pubsub_held_total %v, want %d", got, held)
			}
		})
	}
}

// TestPublishFlushDelayClose: closing a subscriber writes its held
// deliveries before the close frame; none is lost.
func TestPublishFlushDelayClose(t *testing.T) {
	srv := startServer(t, "epoll", "--publish-flush-delay", "1s", testdata(t, "pubsub/flush.lua"))
	var subs []*psClient
	for range 4 {
		subs = append(subs, flushDial(t, srv.Addr, "/sub/room.b"))
	}
	pub := flushDial(t, srv.Addr, "/pub")
	const n = 20
	for i := 1; i <= n; i++ {
		pub.send(fmt.Sprintf("pub room.b m%d", i))
	}
	for range n {
		pub.next()
	}
	awaitDelivered(t, pub, n*len(subs))
	pub.send("kick")
	pub.next()
	for _, s := range subs {
		for i := 1; i <= n; i++ {
			if got := s.next(); got != "m"+strconv.Itoa(i) {
				t.Fatalf("delivery %d: %q", i, got)
			}
		}
		s.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, _, err := s.c.ReadMessage(); !websocket.IsCloseError(err, 4000) {
			t.Fatalf("after the deliveries: %v, want the close frame 4000", err)
		}
	}
}

// TestPublishFlushDelayFlag: the flag refuses what is not a duration
// between 0 and 1s.
func TestPublishFlushDelayFlag(t *testing.T) {
	for _, bad := range []string{"-1ms", "2s", "soon", ""} {
		res := rawRunCLI(t, "", "--publish-flush-delay", bad, testdata(t, "pubsub/flush.lua"))
		if res.code != 2 || !strings.Contains(res.stderr, "publish-flush-delay") {
			t.Errorf("--publish-flush-delay %q: exit %d, stderr %q; want 2 and an error naming the flag", bad, res.code, res.stderr)
		}
	}
}

// flushDial opens path on addr and reads its "joined".
// awaitDelivered waits until the worker has written (or held) n
// deliveries: they reach the loop after the publishes' answers, so a
// command sent on "ok" could otherwise overtake them.
func awaitDelivered(t *testing.T, pub *psClient, n int) {
	t.Helper()
	want := fmt.Sprintf("delivered %d", n)
	for range 500 {
		pub.send("delivered")
		if pub.next() == want {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the worker never delivered all %d messages", n)
}

func flushDial(t *testing.T, addr, path string) *psClient {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial("ws://"+addr+path, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	resp.Body.Close()
	t.Cleanup(func() { c.Close() })
	p := &psClient{t: t, c: c}
	if got := p.next(); got != "joined" {
		t.Fatalf("%s: %q, want joined", path, got)
	}
	return p
}
