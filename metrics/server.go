package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DefaultProbeTimeout bounds each worker's answer to a scrape or a probe.
const DefaultProbeTimeout = time.Second

// maxInFlight bounds the requests answered at once: each one posts a task
// to every loop, so a flood of them must not become a flood of tasks.
const maxInFlight = 8

// Config describes the metrics server.
type Config struct {
	Addr         string        // host:port of its own listener
	Workers      []Worker      // the loops, worker 1 first
	Scripts      *Registry     // scripts' own metrics; nil: none
	ProbeTimeout time.Duration // how long a loop may take to answer; 0: DefaultProbeTimeout
	Logger       *slog.Logger
	// PubSub reads the process's topic and broker counters; nil: none.
	// While it says the broker is down or connecting, /readyz is 503.
	PubSub func() PubSub
}

// Server serves /metrics, /healthz and /readyz.
type Server struct {
	cfg  Config
	ln   net.Listener
	http *http.Server

	mu       sync.Mutex
	notReady string // why /readyz answers 503; "" once ready
}

// Listen binds the metrics listener and builds the registry; Serve
// answers. /readyz says "starting" until SetReady.
func Listen(cfg Config) (*Server, error) {
	if cfg.ProbeTimeout <= 0 {
		cfg.ProbeTimeout = DefaultProbeTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&engineCollector{descs: newDescs(), workers: cfg.Workers, timeout: cfg.ProbeTimeout},
	)
	if cfg.Scripts != nil {
		reg.MustRegister(cfg.Scripts)
	}
	if cfg.PubSub != nil {
		reg.MustRegister(newPubSubCollector(cfg.PubSub))
	}
	s := &Server{cfg: cfg, ln: ln, notReady: "starting"}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
	}))
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	inFlight := make(chan struct{}, maxInFlight)
	limited := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case inFlight <- struct{}{}:
			defer func() { <-inFlight }()
			mux.ServeHTTP(w, r)
		default:
			plain(w, http.StatusServiceUnavailable, "too many requests at once\n")
		}
	})
	s.http = &http.Server{Handler: limited, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}
	return s, nil
}

// Addr is the bound address, with the real port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve answers requests until Close.
func (s *Server) Serve() {
	if err := s.http.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.cfg.Logger.Error("metrics listener failed", "err", err)
	}
}

// Close stops the listener; requests under way may finish within a second.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	s.http.Shutdown(ctx)
}

// SetReady makes /readyz answer 200 (reason "") or 503 with reason.
func (s *Server) SetReady(reason string) {
	s.mu.Lock()
	s.notReady = reason
	s.mu.Unlock()
}

// healthz: the process answers and every loop answers a round trip in time.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	var stuck []string
	for i, wk := range s.cfg.Workers {
		if _, err := wk.Sample(s.cfg.ProbeTimeout); err != nil {
			stuck = append(stuck, "worker "+strconv.Itoa(i+1)+": "+err.Error())
		}
	}
	if len(stuck) > 0 {
		http.Error(w, strings.Join(stuck, "\n"), http.StatusServiceUnavailable)
		return
	}
	plain(w, http.StatusOK, "ok\n")
}

// readyz: listening with the script loaded, not shutting down.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	reason := s.notReady
	s.mu.Unlock()
	if reason == "" && s.cfg.PubSub != nil {
		// Delivery across processes is failing: say so, rather than
		// look healthy while messages are lost.
		if st := s.cfg.PubSub().BrokerState; st == "down" || st == "connecting" {
			reason = "broker " + st
		}
	}
	if reason == "" {
		for i, wk := range s.cfg.Workers {
			smp, err := wk.Sample(s.cfg.ProbeTimeout)
			switch {
			case err != nil:
				reason = "worker " + strconv.Itoa(i+1) + " not responding: " + err.Error()
			case smp.ShuttingDown:
				reason = "shutting down"
			case smp.Listeners == 0:
				reason = "worker " + strconv.Itoa(i+1) + " has no listener"
			}
			if reason != "" {
				break
			}
		}
	}
	if reason != "" {
		plain(w, http.StatusServiceUnavailable, "not ready: "+reason+"\n")
		return
	}
	plain(w, http.StatusOK, "ready\n")
}

func plain(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write([]byte(body))
}
