package tests

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"pocketlua/internal/brokertest"
)

// TestPubSubDeliveryQueueBytes: messages waiting for a worker whose loop
// is held in a handler are bounded in bytes by --delivery-queue-bytes:
// of 30 publishes of 256 KiB from the other worker, the held one gets 7
// (2 MiB's worth, each message counting 128 bytes more) once free and
// counts 23 dropped in pubsub_dropped; with the default bound it gets
// all 30. A bad value is refused at start.
func TestPubSubDeliveryQueueBytes(t *testing.T) {
	for _, tc := range []struct {
		flags        []string
		got, dropped int
	}{
		{[]string{"--delivery-queue-bytes", "2MiB"}, 7, 23},
		{nil, 30, 0},
	} {
		args := append([]string{"--workers", "2", "--handler-timeout", "30s", "--max-queued-bytes", "64MiB"}, tc.flags...)
		srv := startServer(t, "epoll", append(args, testdata(t, "pubsub/queues.lua"))...)
		sub := psDial(t, srv.Addr, "/sub/q")
		var pub *psClient
		for i := 0; pub == nil && i < 200; i++ {
			if c := psDial(t, srv.Addr, "/pub/x"); c.worker != sub.worker {
				pub = c
			} else {
				c.c.Close()
			}
		}
		if pub == nil {
			t.Fatal("no connection on the other worker")
		}
		sub.send("hold")
		waitFor(t, 10*time.Second, "the subscriber's worker to hold", func() bool {
			return pub.do("holding") == "ok holding "+sub.worker
		})
		const n, size = 30, 256 << 10
		if got := pub.do(fmt.Sprintf("flood room.q %d %d", n, size)); got != "ok flood " {
			t.Fatalf("flood: %q", got)
		}
		pub.do("release")
		if got := sub.next(); got != "ok hold " {
			t.Fatalf("hold: %q", got)
		}
		pub.do("pub room.q end")
		got := 0
		for m := sub.next(); m != "end"; m = sub.next() {
			if len(m) != size {
				t.Fatalf("got %.40q", m)
			}
			got++
		}
		dropped := sub.do("stats pubsub_dropped")
		if got != tc.got || dropped != fmt.Sprintf("ok stats %d", tc.dropped) {
			t.Errorf("%v: %d of %d delivered, %q dropped, want %d and %d", tc.flags, got, n, dropped, tc.got, tc.dropped)
		}
	}
	for _, flag := range []string{"--delivery-queue-bytes", "--broker-queue-bytes"} {
		r := rawRunCLI(t, "", flag, "0", "--check")
		if r.code != 2 || !strings.Contains(r.stderr, flag+" must be positive") {
			t.Errorf("%s 0: exit %d, stderr %q", flag, r.code, r.stderr)
		}
	}
}

// TestPubSubPresenceBusy: server.presence calls wait in one bounded
// queue per process; asked 1024 times at once, it raises a Lua error that
// says why for those over the bound, and answers every other exactly
// once.
func TestPubSubPresenceBusy(t *testing.T) {
	b := brokertest.StartNATS(t)
	srv := startServer(t, "epoll", "--broker", b.URL, testdata(t, "pubsub/queues.lua"))
	c := psDial(t, srv.Addr, "/sub/p")
	waitFor(t, 10*time.Second, "the broker to be up", func() bool { return c.do("stats broker") == "ok stats up" })
	const n = 1024
	got := c.do(fmt.Sprintf("presences room.p %d", n))
	var refused int
	var last string
	if _, err := fmt.Sscanf(got, "ok presences %d", &refused); err != nil {
		t.Fatalf("presences: %q", got)
	}
	last = strings.SplitN(got, " ", 4)[3]
	if refused == 0 || refused == n || !strings.Contains(last, "presence: 256 queries are waiting for the broker, the limit; ask again later") {
		t.Fatalf("%d of %d refused, last error %q", refused, n, last)
	}
	want := fmt.Sprintf("ok answered %d", n-refused)
	waitFor(t, 10*time.Second, want, func() bool { return c.do("answered") == want })
	time.Sleep(500 * time.Millisecond)
	if a := c.do("answered"); a != want {
		t.Fatalf("%s, want %s", a, want)
	}
}
