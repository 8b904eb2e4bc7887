package broker

import (
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// loop runs posted functions on one goroutine, as a worker's loop does.
type loop struct {
	tasks chan func()
	mu    sync.Mutex
	got   []*Message
}

func newLoop(t *testing.T) *loop {
	l := &loop{tasks: make(chan func(), 1024)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for fn := range l.tasks {
			fn()
		}
	}()
	t.Cleanup(func() { close(l.tasks); <-done })
	return l
}

func (l *loop) post(fn func()) { l.tasks <- fn }

func (l *loop) deliver(batch []*Message) {
	l.mu.Lock()
	l.got = append(l.got, batch...)
	l.mu.Unlock()
}

func (l *loop) wait(t *testing.T, n int) []*Message {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		l.mu.Lock()
		got := append([]*Message(nil), l.got...)
		l.mu.Unlock()
		if len(got) >= n {
			return got
		}
	}
	t.Fatalf("fewer than %d messages", n)
	return nil
}

// TestHubOrderAndInterest: each worker with a subscription gets every
// message once in publish order; a worker without one gets none; a
// message the broker hands back to its own node, or twice, is dropped.
func TestHubOrderAndInterest(t *testing.T) {
	h := NewHub()
	a, b, idle := newLoop(t), newLoop(t), newLoop(t)
	wa := h.Join(a.post, a.deliver)
	wb := h.Join(b.post, b.deliver)
	h.Join(idle.post, idle.deliver)
	wa.Subscribed("t")
	wb.Subscribed("t")
	const n = 1000
	var wg sync.WaitGroup
	for _, w := range []*Worker{wa, wb} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				w.Publish("t", "x", false, 0)
			}
		}()
	}
	wg.Wait()
	for _, l := range []*loop{a, b} {
		got := l.wait(t, 2*n)
		if len(got) != 2*n {
			t.Fatalf("%d messages, want %d", len(got), 2*n)
		}
		last := map[int32]uint64{}
		for _, m := range got {
			if m.Seq != last[m.Worker]+1 {
				t.Fatalf("worker %d: seq %d after %d", m.Worker, m.Seq, last[m.Worker])
			}
			last[m.Worker] = m.Seq
		}
	}
	if len(idle.got) != 0 {
		t.Fatal("a worker without subscriptions got messages")
	}
	if got := wa.Subscribers("t"); got != 2 {
		t.Fatalf("Subscribers = %d", got)
	}
	h.Receive(&Message{Topic: "t", Node: h.Node(), Worker: 1, Seq: 99999})
	h.Receive(&Message{Topic: "t", Node: 7, Worker: 1, Seq: 1})
	h.Receive(&Message{Topic: "t", Node: 7, Worker: 1, Seq: 1})
	a.wait(t, 2*n+1)
	time.Sleep(20 * time.Millisecond)
	if got := len(a.wait(t, 0)); got != 2*n+1 {
		t.Fatalf("%d messages after the broker's copies, want %d", got, 2*n+1)
	}
	if st := h.Stats(); st.Received != 1 || st.Duplicates != 1 || st.Published != 2*n {
		t.Fatalf("stats %+v", st)
	}
}

// TestHubForgetsSilentPublishers: the table that drops second copies
// keeps no entry for publishers (restarted processes, each with a new
// node id) silent for longer than a copy could be late, and still drops
// a copy from one that is not.
func TestHubForgetsSilentPublishers(t *testing.T) {
	defer func(d time.Duration) { silentFor = d }(silentFor)
	h := NewHub()
	silentFor = time.Hour
	for node := uint64(2); node < 2+minSweep/2; node++ {
		h.Receive(&Message{Topic: "t", Node: node, Worker: 1, Seq: 1})
	}
	silentFor = -time.Second // from here every entry counts as silent
	for node := uint64(1000); node < 1000+10*minSweep; node++ {
		h.Receive(&Message{Topic: "t", Node: node, Worker: 1, Seq: 1})
	}
	h.mu.Lock()
	left := len(h.lastSeq)
	h.mu.Unlock()
	if left >= minSweep {
		t.Fatalf("%d publishers remembered after %d came and went", left, 10*minSweep)
	}
	silentFor = time.Hour
	last := uint64(1000 + 10*minSweep - 1)
	h.Receive(&Message{Topic: "t", Node: last, Worker: 1, Seq: 1})
	if st := h.Stats(); st.Duplicates != 1 {
		t.Fatalf("a copy from a publisher just heard was not dropped: %+v", st)
	}
}

// TestRemoteQueueDrops: a publish that finds the broker's queue full is
// dropped and counted at once, never waited for.
func TestRemoteQueueDrops(t *testing.T) {
	h := NewHub()
	b := newRemoteBase(h, "test://", Queue{Messages: 2}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for i := 0; i < 5; i++ {
		b.Publish(&Message{Topic: "t"})
	}
	if st := b.Stats(); st.Dropped != 3 || len(b.out) != 2 || st.State != StateConnecting {
		t.Fatalf("stats %+v, queued %d", st, len(b.out))
	}
	// Another program's payloads are ignored.
	b.receive([]byte("hello"))
	b.receive([]byte("hello"))
	if b.foreign.Load() != 2 || b.received.Load() != 0 {
		t.Fatal("a foreign payload was taken")
	}
}
