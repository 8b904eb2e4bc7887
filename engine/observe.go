package engine

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"pocketlua/bindings"
	"pocketlua/poll"
)

// The handler kinds the engine times are bindings.HandlerNames, in order.
var _ = [1]struct{}{}[bindings.NumHandlers-int(evSSH)-1]

func sum(xs []int64) int64 {
	var n int64
	for _, x := range xs {
		n += x
	}
	return n
}

// observed completes the loop's counters with what is read, not counted:
// listeners, descriptor shortages. Queued output, a walk over every
// connection, is left to Probe.
func (s *Server) observed() bindings.Observed {
	o := s.stats.obs
	o.Listeners = len(s.listeners)
	o.ShuttingDown = s.shuttingDown
	o.FDLimit = s.loop.AcceptFailures()
	return o
}

// uringStats reads the io_uring loop's buffer ring; zero on other pollers.
func (s *Server) uringStats() bindings.UringStats {
	r, ok := s.loop.UringRing()
	if !ok {
		return bindings.UringStats{}
	}
	return bindings.UringStats{Buffers: r.Target, BuffersPeak: r.Peak, BuffersMax: r.Max, Grown: r.Grew, Shrunk: r.Shrank}
}

// closeCauseOf sorts an end into the causes /metrics counts. A script's
// own close counts as a timeout when its reason says so ("idle", or a
// reason containing "timeout"), as the batteries' idle and request timers do.
func closeCauseOf(cause error, reason string) bindings.CloseCause {
	switch cause {
	case nil:
		return bindings.CloseScript
	case poll.ErrPeerClosed:
		return bindings.ClosePeer
	case poll.ErrSlowConsumer:
		return bindings.CloseSlowConsumer
	case poll.ErrShutdown:
		return bindings.CloseShutdown
	case poll.ErrConnectTimeout:
		return bindings.CloseTimeout
	}
	cc, ok := cause.(*closeCause)
	if !ok {
		return bindings.CloseIOError
	}
	if cc.kind == bindings.CloseScript && (reason == "idle" || strings.Contains(reason, "timeout")) {
		return bindings.CloseTimeout
	}
	return cc.kind
}

// CountHTTPResponse counts one HTTP response by status class; httpd.lua
// calls it through metrics.http_response.
func (s *Server) CountHTTPResponse(status int) {
	class := status / 100
	if class < 1 || class > 5 {
		class = 0
	}
	s.stats.obs.HTTPResponses[class]++
}

// probeGate keeps probes from posting to a loop that has stopped: its
// wake-up descriptor is closed then, and the number may belong to
// another file already.
type probeGate struct {
	mu      sync.Mutex
	stopped bool
}

func (g *probeGate) stop() {
	g.mu.Lock()
	g.stopped = true
	g.mu.Unlock()
}

// onLoop runs fn on the loop and waits at most timeout for it: the
// round trip that tells a live loop from a stuck one.
func (s *Server) onLoop(timeout time.Duration, fn func()) error {
	done := make(chan struct{})
	s.probes.mu.Lock()
	if s.probes.stopped {
		s.probes.mu.Unlock()
		return fmt.Errorf("worker %d: the loop has stopped", max(s.cfg.Worker, 1))
	}
	s.loop.Post(func() { fn(); close(done) })
	s.probes.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C:
		return fmt.Errorf("worker %d: the loop did not answer within %s", max(s.cfg.Worker, 1), timeout)
	}
}

// Probe copies the server's counters on its loop; safe from any
// goroutine. It fails when the loop does not answer within timeout (a
// handler stuck, or the loop stopped).
func (s *Server) Probe(timeout time.Duration) (bindings.Stats, error) {
	var st bindings.Stats
	err := s.onLoop(timeout, func() {
		st = s.Stats()
		for _, c := range s.conns {
			st.QueuedBytes += int64(c.pc.Queued())
		}
	})
	if err != nil {
		return bindings.Stats{}, err
	}
	return st, nil
}

// Ping is a round trip to the loop, bounded by timeout.
func (s *Server) Ping(timeout time.Duration) error {
	return s.onLoop(timeout, func() {})
}

// ReloadAndWait reloads as Reload does and waits, at most timeout, for
// the outcome; the service manager is told when a reload is over.
func (s *Server) ReloadAndWait(trigger string, timeout time.Duration) error {
	var err error
	if werr := s.onLoop(timeout, func() { err = s.reload(trigger) }); werr != nil {
		return werr
	}
	return err
}
