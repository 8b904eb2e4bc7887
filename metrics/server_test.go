package metrics

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeWorker answers Sample as told: after block is closed (when set),
// with err or with s.
type fakeWorker struct {
	s       Sample
	err     error
	block   chan struct{}
	waiting atomic.Int32 // Samples blocked now
}

func (w *fakeWorker) Sample(timeout time.Duration) (Sample, error) {
	if w.block != nil {
		w.waiting.Add(1)
		<-w.block
	}
	return w.s, w.err
}

func serve(t *testing.T, workers ...Worker) *Server {
	t.Helper()
	s, err := Listen(Config{Addr: "127.0.0.1:0", Workers: workers, ProbeTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	t.Cleanup(s.Close)
	return s
}

func fetch(t *testing.T, s *Server, path string) (int, string) {
	t.Helper()
	res, err := http.Get("http://" + s.Addr() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestReadyAndHealth: /readyz follows SetReady, a shutting-down worker, a
// worker without listeners and one that does not answer; /healthz only
// the last.
func TestReadyAndHealth(t *testing.T) {
	w1, w2 := &fakeWorker{s: Sample{Listeners: 1}}, &fakeWorker{s: Sample{Listeners: 1}}
	s := serve(t, w1, w2)
	for _, tc := range []struct {
		setup         func()
		ready, health int
		body          string
	}{
		{func() {}, 503, 200, "not ready: starting\n"},
		{func() { s.SetReady("") }, 200, 200, "ready\n"},
		{func() { w2.s.Listeners = 0 }, 503, 200, "not ready: worker 2 has no listener\n"},
		{func() { w2.s.Listeners = 1; w1.s.ShuttingDown = true }, 503, 200, "not ready: shutting down\n"},
		{func() { w1.s.ShuttingDown = false; w2.err = errors.New("stuck") }, 503, 503, "not ready: worker 2 not responding: stuck\n"},
		{func() { w2.err = nil; s.SetReady("shutting down") }, 503, 200, "not ready: shutting down\n"},
	} {
		tc.setup()
		if status, body := fetch(t, s, "/readyz"); status != tc.ready || body != tc.body {
			t.Errorf("/readyz = %d %q, want %d %q", status, body, tc.ready, tc.body)
		}
		if status, _ := fetch(t, s, "/healthz"); status != tc.health {
			t.Errorf("/healthz = %d with %q, want %d", status, tc.body, tc.health)
		}
	}
	if status, _ := fetch(t, s, "/nothing"); status != 404 {
		t.Errorf("/nothing = %d", status)
	}
}

// TestInFlightBound: requests beyond the bound are refused at once rather
// than queued as more tasks for the loops.
func TestInFlightBound(t *testing.T) {
	w := &fakeWorker{block: make(chan struct{})}
	s := serve(t, w)
	var wg sync.WaitGroup
	codes := make(chan int, maxInFlight)
	for i := 0; i < maxInFlight; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := http.Get("http://" + s.Addr() + "/healthz")
			if err == nil {
				res.Body.Close()
				codes <- res.StatusCode
			}
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for w.waiting.Load() < maxInFlight {
		if time.Now().After(deadline) {
			close(w.block)
			t.Fatalf("only %d requests in flight", w.waiting.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	status, body := fetch(t, s, "/healthz")
	close(w.block)
	if status != 503 || !strings.Contains(body, "too many requests") {
		t.Errorf("request %d: %d %q, want 503", maxInFlight+1, status, body)
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Errorf("a request within the bound got %d", c)
		}
	}
}
