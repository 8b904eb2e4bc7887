package engine

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"pocketlua/bindings"
	"pocketlua/poll"
	"pocketlua/scripts"
)

// TestProbeRoundTrip: a running loop answers a probe with its counters;
// once it has stopped a probe fails at once instead of posting to a
// closed wake-up descriptor.
func TestProbeRoundTrip(t *testing.T) {
	s, err := New(Config{Listen: []string{"127.0.0.1:0"}, Batteries: scripts.FS, DefaultScript: "tcp_echo.lua", Worker: 3})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run() }()
	st, err := s.Probe(5 * time.Second)
	if err != nil || st.Worker != 3 || st.Listeners != 1 || st.ShuttingDown {
		t.Fatalf("probe: %+v, %v", st.Observed, err)
	}
	if err := s.Ping(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	// A client that sends and never reads: the echo backs up in the
	// connection's output queue, which the probe sums.
	c, err := net.Dial("tcp", s.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() {
		chunk := make([]byte, 64<<10)
		for i := 0; i < 256; i++ {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for st.QueuedBytes < 256<<10 {
		if time.Now().After(deadline) {
			t.Fatalf("queued output %d after 10 s of a client that does not read", st.QueuedBytes)
		}
		time.Sleep(20 * time.Millisecond)
		if st, err = s.Probe(5 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	s.Shutdown()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := s.Probe(5 * time.Second); err == nil || !strings.Contains(err.Error(), "worker 3: the loop has stopped") {
		t.Fatalf("probe after stop: %v", err)
	}
	if time.Since(start) > time.Second {
		t.Error("a probe of a stopped loop waited for its timeout")
	}
}

// TestCloseCauseOf: every way a connection ends lands under one cause.
func TestCloseCauseOf(t *testing.T) {
	for _, tc := range []struct {
		cause  error
		reason string
		want   bindings.CloseCause
	}{
		{nil, "closed", bindings.CloseScript},
		{poll.ErrPeerClosed, "peer closed", bindings.ClosePeer},
		{poll.ErrSlowConsumer, "slow consumer", bindings.CloseSlowConsumer},
		{poll.ErrShutdown, "shutdown", bindings.CloseShutdown},
		{poll.ErrConnectTimeout, "connect timeout", bindings.CloseTimeout},
		{unix.ECONNRESET, "connection reset by peer", bindings.CloseIOError},
		{errors.New("odd"), "odd", bindings.CloseIOError},
		{&closeCause{reason: "bye"}, "bye", bindings.CloseScript},
		{&closeCause{reason: "idle"}, "idle", bindings.CloseTimeout},
		{&closeCause{reason: "protocol detection timeout"}, "protocol detection timeout", bindings.CloseTimeout},
		{&closeCause{reason: "shutdown", kind: bindings.CloseShutdown}, "shutdown", bindings.CloseShutdown},
		{&closeCause{code: 1000, reason: "idle", kind: bindings.ClosePeer}, "idle", bindings.ClosePeer},
		{&closeCause{reason: "error", kind: bindings.CloseLuaError}, "error", bindings.CloseLuaError},
	} {
		if got := closeCauseOf(tc.cause, tc.reason); got != tc.want {
			t.Errorf("%v %q: %s, want %s", tc.cause, tc.reason, bindings.CloseCauseNames[got], bindings.CloseCauseNames[tc.want])
		}
	}
}
