package main

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"pocketlua/bindings"
	"pocketlua/engine"
	"pocketlua/metrics"
)

// The service side of the command: systemd socket activation and
// notifications, and the --metrics listener (docs/SYSTEMD.md, docs/METRICS.md).

// listenFDs takes the listening sockets systemd handed over
// (LISTEN_PID, LISTEN_FDS; sd_listen_fds(3)): descriptors 3 and up. The
// variables are removed so no child inherits them.
func listenFDs() ([]int, error) {
	pid, nfds := os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS")
	if pid == "" && nfds == "" {
		return nil, nil
	}
	os.Unsetenv("LISTEN_PID")
	os.Unsetenv("LISTEN_FDS")
	os.Unsetenv("LISTEN_FDNAMES")
	if p, err := strconv.Atoi(pid); err != nil || p != os.Getpid() {
		return nil, nil // meant for another process
	}
	n, err := strconv.Atoi(nfds)
	if err != nil || n < 1 || n > 256 {
		return nil, fmt.Errorf("LISTEN_FDS=%q: want a count of inherited sockets", nfds)
	}
	fds := make([]int, n)
	for i := range fds {
		fds[i] = 3 + i
		unix.CloseOnExec(fds[i])
	}
	return fds, nil
}

// dupFDs gives another worker its own descriptors for the same sockets:
// every worker's loop accepts from the one inherited socket, and each
// closes only its own descriptor.
func dupFDs(fds []int) ([]int, error) {
	out := make([]int, len(fds))
	for i, fd := range fds {
		d, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("inherited socket %d: %w", fd, err)
		}
		out[i] = d
	}
	return out, nil
}

// notifier sends sd_notify(3) datagrams to NOTIFY_SOCKET; nil when the
// variable is unset (not run by systemd with Type=notify).
type notifier struct {
	conn *net.UnixConn
	log  *slog.Logger
}

func newNotifier(logger *slog.Logger) *notifier {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	os.Unsetenv("NOTIFY_SOCKET")
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		logger.Warn("NOTIFY_SOCKET: cannot reach the service manager", "socket", path, "err", err)
		return nil
	}
	return &notifier{conn: conn, log: logger}
}

func (n *notifier) send(state string) {
	if n == nil {
		return
	}
	if _, err := n.conn.Write([]byte(state)); err != nil {
		n.log.Warn("sd_notify failed", "state", state, "err", err)
	}
}

// monotonicUsec is CLOCK_MONOTONIC in microseconds, which RELOADING=1 carries.
func monotonicUsec() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano() / 1000
}

// service ties the workers to what watches them from outside.
type service struct {
	srvs    []*engine.Server
	notify  *notifier
	metrics *metrics.Server
	log     *slog.Logger
	stop    chan struct{}
}

// ready: listening with the script loaded.
func (sv *service) ready(status string) {
	if sv.metrics != nil {
		sv.metrics.SetReady("")
	}
	sv.notify.send("READY=1\nSTATUS=" + status)
	if sv.notify != nil {
		sv.startWatchdog()
	}
}

// reload reloads every worker; under systemd it says RELOADING=1 first
// and READY=1 once every worker is done, as Type=notify-reload expects.
func (sv *service) reload(trigger string) {
	if sv.notify == nil {
		for _, srv := range sv.srvs {
			srv.Reload(trigger)
		}
		return
	}
	sv.notify.send("RELOADING=1\nMONOTONIC_USEC=" + strconv.FormatInt(monotonicUsec(), 10))
	for _, srv := range sv.srvs {
		srv.ReloadAndWait(trigger, time.Minute) // failures are logged by the worker
	}
	sv.notify.send("READY=1")
}

// stopping: from now /readyz answers 503 and systemd knows we drain.
func (sv *service) stopping() {
	if sv.metrics != nil {
		sv.metrics.SetReady("shutting down")
	}
	sv.notify.send("STOPPING=1")
}

// startWatchdog sends WATCHDOG=1 at half the interval systemd asked for
// (WATCHDOG_USEC), and only while every loop answers a round trip: a stuck
// loop stops the pings and systemd restarts the service.
func (sv *service) startWatchdog() {
	usec, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || usec <= 0 {
		return
	}
	if pid := os.Getenv("WATCHDOG_PID"); pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return
	}
	interval := time.Duration(usec) * time.Microsecond / 2
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-sv.stop:
				return
			case <-t.C:
			}
			alive := true
			for _, srv := range sv.srvs {
				if err := srv.Ping(interval / 2); err != nil {
					sv.log.Warn("watchdog: a loop did not answer; not telling systemd we are alive", "err", err)
					alive = false
					break
				}
			}
			if alive {
				sv.notify.send("WATCHDOG=1")
			}
		}
	}()
}

func (sv *service) close() {
	close(sv.stop)
	if sv.metrics != nil {
		sv.metrics.Close()
	}
}

// startMetrics serves --metrics ADDR for the workers.
func startMetrics(addr string, srvs []*engine.Server, reg *metrics.Registry, logger *slog.Logger) (*metrics.Server, error) {
	workers := make([]metrics.Worker, len(srvs))
	for i, srv := range srvs {
		workers[i] = metricsWorker{srv}
	}
	ms, err := metrics.Listen(metrics.Config{Addr: addr, Workers: workers, Scripts: reg, Logger: logger, PubSub: func() metrics.PubSub {
		st := srvs[0].PubSubProcess()
		return metrics.PubSub{Dropped: st.Dropped, BrokerState: st.Broker, BrokerSent: st.BrokerSent,
			BrokerReceived: st.BrokerReceived, BrokerDropped: st.BrokerDropped}
	}})
	if err != nil {
		return nil, err
	}
	go ms.Serve()
	logger.Info("metrics listening", "addr", ms.Addr(), "paths", "/metrics /healthz /readyz")
	return ms, nil
}

// metricsWorker reads an engine.Server for the metrics package.
type metricsWorker struct{ srv *engine.Server }

func (w metricsWorker) Sample(timeout time.Duration) (metrics.Sample, error) {
	st, err := w.srv.Probe(timeout)
	if err != nil {
		return metrics.Sample{}, err
	}
	o := &st.Observed
	smp := metrics.Sample{
		Open:        st.Connections,
		Descriptors: st.Descriptors,
		Listeners:   o.Listeners,
		Accepted:    st.Accepted,
		Outbound:    st.Outbound,
		Refused: []metrics.Count{
			{Label: "max_conns", Value: st.OverLimit - o.ShutdownRefused},
			{Label: "shutdown", Value: o.ShutdownRefused},
			{Label: "script", Value: st.Refused},
			{Label: "fd_limit", Value: o.FDLimit},
		},
		Closed:      named(bindings.CloseCauseNames[:], o.Closed[:]),
		BytesIn:     named(bindings.ProtocolNames[:], o.BytesIn[:]),
		BytesOut:    named(bindings.ProtocolNames[:], o.BytesOut[:]),
		MessagesIn:  named(bindings.ProtocolNames[:], o.MessagesIn[:]),
		MessagesOut: named(bindings.ProtocolNames[:], o.MessagesOut[:]),
		Interrupted: []metrics.Count{
			{Label: "timeout", Value: st.Timeouts},
			{Label: "memory", Value: st.MemoryInterrupts},
		},
		LuaErrors:     st.LuaErrors,
		ReloadsOK:     st.Reloads,
		ReloadsFailed: o.ReloadsFailed,
		ReloadPause:   durations("", &o.ReloadPause),
		QueuedBytes:   o.QueuedBytes,
		HTTPResponses: named([]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}, o.HTTPResponses[:]),
		ScriptVersion: st.Version,
		ShuttingDown:  o.ShuttingDown,

		SSHOpen:            st.SSHConnections,
		SSHUnauthenticated: st.SSHUnauthenticated,
		SSHAccepted:        st.SSHAccepted,
		SSHDropped:         st.SSHDropped,
		SSHGraceTimeouts:   st.SSHGraceTimeouts,
		SSHAuthFailures:    st.SSHAuthFailures,

		TLSHandshakes:       named(bindings.TLSResultNames[:], st.TLS.Handshakes[:]),
		TLSDropped:          st.TLS.Dropped,
		TLSPlaintextRefused: st.TLS.PlaintextRefused,
		TLSInFlight:         st.TLS.InFlight,
		ProxyRefused:        named(bindings.ProxyRefusalNames[:], st.Proxy.Refused[:]),
		PubSubSubscriptions: st.PubSub.Subscriptions,
		PubSubPublished:     st.PubSub.Published,
		PubSubDelivered:     st.PubSub.Delivered,
		PubSubHeld:          st.PubSub.Held,

		UringBuffers:     st.Uring.Buffers,
		UringBuffersPeak: st.Uring.BuffersPeak,
		UringBuffersMax:  st.Uring.BuffersMax,
		UringGrown:       st.Uring.Grown,
		UringShrunk:      st.Uring.Shrunk,
	}
	for i, name := range bindings.HandlerNames {
		smp.Handlers = append(smp.Handlers, durations(name, &o.Handlers[i]))
	}
	return smp, nil
}

func named(names []string, values []int64) []metrics.Count {
	out := make([]metrics.Count, len(values))
	for i, v := range values {
		out[i] = metrics.Count{Label: names[i], Value: v}
	}
	return out
}

// durationBounds are bindings.DurationBuckets in seconds, made on the
// first scrape.
var durationBounds = sync.OnceValue(func() []float64 {
	out := make([]float64, len(bindings.DurationBuckets))
	for i, d := range bindings.DurationBuckets {
		out[i] = d.Seconds()
	}
	return out
})

func durations(label string, d *bindings.Durations) metrics.Histogram {
	return metrics.Histogram{Label: label, Bounds: durationBounds(), Counts: d.Counts[:], Sum: d.Sum.Seconds()}
}
