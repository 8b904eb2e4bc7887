package main

import (
	"crypto/tls"
	"sync"
	"time"
)

// connectBackoff spaces retries after a failed dial so a refused port does
// not turn into a busy loop.
const connectBackoff = 10 * time.Millisecond

// runConnect measures connection setup: each of cfg.Conns dialers loops over
// connect, handshake, optional echo, close handshake.
func runConnect(cfg *Config) (*Result, error) {
	tgt, err := newTarget(cfg)
	if err != nil {
		return nil, err
	}
	errs := &errorLog{w: cfg.Stderr}
	start := time.Now()
	win := &window{from: start.Add(cfg.Warmup), drain: cfg.Drain}
	win.to = win.from.Add(cfg.Duration)

	type tally struct {
		n          uint64
		notResumed uint64    // --tls-resume: dials that did a full handshake
		version    string    // TLS version of the last connection
		hist       histogram // handshake latency: dial to validated 101
	}
	tallies := make([]tally, cfg.Conns)
	var done sync.WaitGroup
	done.Add(cfg.Conns)
	for d := range tallies {
		go func() {
			defer done.Done()
			t := &tallies[d]
			w := newEchoWorker(cfg, tgt, d)
			w.hist = new(histogram) // unused: echo latency is not reported here
			if cfg.TLSResume {
				// A cache of its own: the first dial is full, the next ones resume.
				w.tls = tgt.tls.Clone()
				w.tls.ClientSessionCache = tls.NewLRUClientSessionCache(1)
			}
			// Bounded by the window: every step below has a deadline.
			for id := d; time.Now().Before(win.to); id += cfg.Conns {
				w.id = id
				t0 := time.Now()
				rest, err := w.open()
				if err != nil {
					errs.add(kindOf(err), id, err)
					time.Sleep(connectBackoff)
					continue
				}
				setup := time.Since(t0)
				resumed := didResume(w.conn)
				t.version = tlsVersionOf(w.conn)
				w.reset()
				if cfg.Echo {
					one := &window{from: t0, to: t0, drain: cfg.Timeout} // send one, never a second; pump sets the deadline
					w.sentAt = w.sentAt[:1]
					if err := w.pump(one, rest); err != nil {
						errs.add(kindOf(err), id, err)
						w.conn.Close()
						continue
					}
				}
				if err := w.finish(); err != nil {
					errs.add(kindOf(err), id, err)
					continue
				}
				if !t0.Before(win.from) && time.Now().Before(win.to) {
					if cfg.TLSResume && !resumed {
						t.notResumed++
						continue
					}
					t.n++
					t.hist.record(int64(setup))
				}
			}
		}()
	}
	probe := cpuProbe{pids: cfg.pids()}
	sleepUntil(win.from)
	probe.start()
	sleepUntil(win.to)
	probe.stop()
	done.Wait()

	res := &Result{Mode: "connect", Target: tgt.String(), Conns: cfg.Conns, Duration: cfg.Duration.Seconds()}
	if cfg.Echo {
		res.Size = ptr(cfg.Size)
	}
	var total histTotal
	var n, notResumed uint64
	for i := range tallies {
		total.add(&tallies[i].hist)
		n += tallies[i].n
		notResumed += tallies[i].notResumed
		if v := tallies[i].version; v != "" {
			res.TLSVersion = v
		}
	}
	if cfg.TLSResume {
		res.NotResumed = ptr(notResumed)
	}
	res.Handshakes = ptr(n)
	res.HandshakesPerS = ptr(float64(n) / cfg.Duration.Seconds())
	res.setLatency(&total)
	probe.fill(res, n)
	errs.fill(res)
	return res, nil
}
