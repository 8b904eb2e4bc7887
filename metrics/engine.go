package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// descs are the engine's metrics (docs/METRICS.md explains each), made
// when --metrics is served, not at package init.
type descs struct {
	descUp,
	descOpen,
	descDescriptors,
	descListeners,
	descAccepted,
	descOutbound,
	descRefused,
	descClosed,
	descBytesIn,
	descBytesOut,
	descMessagesIn,
	descMessagesOut,
	descHandler,
	descInterrupted,
	descLuaErrors,
	descReloads,
	descReloadPause,
	descQueued,
	descHTTP,
	descScriptVersion,
	descSSHOpen,
	descSSHUnauth,
	descSSHAccepted,
	descSSHDropped,
	descSSHGrace,
	descSSHAuthFailures,
	descPubSubSubs,
	descPubSubPublished,
	descPubSubDelivered,
	descPubSubHeld *prometheus.Desc
}

func newDescs() *descs {
	return &descs{
		descUp:              newDesc("worker_up", "1 when the worker's loop answered this scrape in time, else 0 (its other series are then missing)."),
		descOpen:            newDesc("connections_open", "Connections open now."),
		descDescriptors:     newDesc("descriptors", "Descriptors the loop holds, closing connections too."),
		descListeners:       newDesc("listeners", "Listening sockets."),
		descAccepted:        newDesc("connections_accepted_total", "Connections accepted."),
		descOutbound:        newDesc("connections_outbound_total", "server.connect attempts that got a socket."),
		descRefused:         newDesc("connections_refused_total", "Connections refused, by reason.", "reason"),
		descClosed:          newDesc("connections_closed_total", "Connections closed, by cause.", "cause"),
		descBytesIn:         newDesc("received_bytes_total", "Bytes read, by protocol.", "protocol"),
		descBytesOut:        newDesc("sent_bytes_total", "Bytes queued for writing, by protocol.", "protocol"),
		descMessagesIn:      newDesc("received_messages_total", "Messages received, by protocol: WebSocket messages, data() deliveries otherwise.", "protocol"),
		descMessagesOut:     newDesc("sent_messages_total", "Messages sent, by protocol: WebSocket messages, conn:send calls otherwise.", "protocol"),
		descHandler:         newDesc("lua_handler_duration_seconds", "Time Lua handlers ran, by event.", "event"),
		descInterrupted:     newDesc("lua_handlers_interrupted_total", "Lua handlers interrupted, by limit.", "limit"),
		descLuaErrors:       newDesc("lua_errors_total", "Lua handlers that failed with an error."),
		descReloads:         newDesc("reloads_total", "Script reloads, by result.", "result"),
		descReloadPause:     newDesc("reload_pause_seconds", "How long a reload held the loop."),
		descQueued:          newDesc("queued_output_bytes", "Output queued on open connections now."),
		descHTTP:            newDesc("http_responses_total", "HTTP responses sent by httpd.lua, by status class.", "class"),
		descScriptVersion:   newDesc("script_version", "The script version: 1 + successful reloads."),
		descSSHOpen:         newDesc("ssh_connections_open", "SSH connections open now (ssh.lua)."),
		descSSHUnauth:       newDesc("ssh_unauthenticated", "Of them, connections not logged in yet."),
		descSSHAccepted:     newDesc("ssh_connections_accepted_total", "SSH connections taken on."),
		descSSHDropped:      newDesc("ssh_connections_dropped_total", "SSH connections closed at once over --ssh-max-conns or --ssh-max-startups."),
		descSSHGrace:        newDesc("ssh_login_grace_timeouts_total", "SSH connections closed after --ssh-login-grace without a login."),
		descSSHAuthFailures: newDesc("ssh_auth_failures_total", "Failed SSH authentication attempts."),
		descPubSubSubs:      newDesc("pubsub_subscriptions", "Topic subscriptions held by the worker's connections."),
		descPubSubPublished: newDesc("pubsub_published_total", "server.publish calls."),
		descPubSubDelivered: newDesc("pubsub_delivered_total", "Topic messages written to subscribers or handed to published()."),
		descPubSubHeld:      newDesc("pubsub_held_total", "Subscribers whose deliveries waited --publish-flush-delay, to leave in one write with what came meanwhile."),
	}
}

func newDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("pocketlua_"+name, help, append([]string{"worker"}, labels...), nil)
}

// engineCollector reads every worker's Sample at scrape time.
type engineCollector struct {
	*descs
	workers []Worker
	timeout time.Duration
}

func (c *engineCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.descUp, c.descOpen, c.descDescriptors, c.descListeners, c.descAccepted, c.descOutbound,
		c.descRefused, c.descClosed, c.descBytesIn, c.descBytesOut, c.descMessagesIn, c.descMessagesOut, c.descHandler,
		c.descInterrupted, c.descLuaErrors, c.descReloads, c.descReloadPause, c.descQueued, c.descHTTP, c.descScriptVersion,
		c.descSSHOpen, c.descSSHUnauth, c.descSSHAccepted, c.descSSHDropped, c.descSSHGrace, c.descSSHAuthFailures,
		c.descPubSubSubs, c.descPubSubPublished, c.descPubSubDelivered, c.descPubSubHeld} {
		ch <- d
	}
	describeTLS(ch)
	describeUring(ch)
}

func (c *engineCollector) Collect(ch chan<- prometheus.Metric) {
	// Ask every loop at once, so one slow loop costs one timeout, not N.
	type answer struct {
		s   Sample
		err error
	}
	answers := make([]chan answer, len(c.workers))
	for i, w := range c.workers {
		answers[i] = make(chan answer, 1)
		go func() {
			s, err := w.Sample(c.timeout)
			answers[i] <- answer{s, err}
		}()
	}
	for i := range c.workers {
		a := <-answers[i]
		worker := strconv.Itoa(i + 1)
		if a.err != nil {
			ch <- gauge(c.descUp, 0, worker)
			continue
		}
		ch <- gauge(c.descUp, 1, worker)
		c.collectSample(ch, &a.s, worker)
	}
}

func (c *engineCollector) collectSample(ch chan<- prometheus.Metric, s *Sample, worker string) {
	ch <- gauge(c.descOpen, float64(s.Open), worker)
	ch <- gauge(c.descDescriptors, float64(s.Descriptors), worker)
	ch <- gauge(c.descListeners, float64(s.Listeners), worker)
	ch <- counter(c.descAccepted, float64(s.Accepted), worker)
	ch <- counter(c.descOutbound, float64(s.Outbound), worker)
	counts(ch, c.descRefused, s.Refused, worker)
	counts(ch, c.descClosed, s.Closed, worker)
	counts(ch, c.descBytesIn, s.BytesIn, worker)
	counts(ch, c.descBytesOut, s.BytesOut, worker)
	counts(ch, c.descMessagesIn, s.MessagesIn, worker)
	counts(ch, c.descMessagesOut, s.MessagesOut, worker)
	for _, h := range s.Handlers {
		ch <- histogram(c.descHandler, h, worker, h.Label)
	}
	counts(ch, c.descInterrupted, s.Interrupted, worker)
	ch <- counter(c.descLuaErrors, float64(s.LuaErrors), worker)
	ch <- counter(c.descReloads, float64(s.ReloadsOK), worker, "ok")
	ch <- counter(c.descReloads, float64(s.ReloadsFailed), worker, "failed")
	ch <- histogram(c.descReloadPause, s.ReloadPause, worker)
	ch <- gauge(c.descQueued, float64(s.QueuedBytes), worker)
	counts(ch, c.descHTTP, s.HTTPResponses, worker)
	ch <- gauge(c.descScriptVersion, float64(s.ScriptVersion), worker)
	ch <- gauge(c.descSSHOpen, float64(s.SSHOpen), worker)
	ch <- gauge(c.descSSHUnauth, float64(s.SSHUnauthenticated), worker)
	ch <- counter(c.descSSHAccepted, float64(s.SSHAccepted), worker)
	ch <- counter(c.descSSHDropped, float64(s.SSHDropped), worker)
	ch <- counter(c.descSSHGrace, float64(s.SSHGraceTimeouts), worker)
	ch <- counter(c.descSSHAuthFailures, float64(s.SSHAuthFailures), worker)
	collectTLS(ch, s, worker)
	ch <- gauge(c.descPubSubSubs, float64(s.PubSubSubscriptions), worker)
	ch <- counter(c.descPubSubPublished, float64(s.PubSubPublished), worker)
	ch <- counter(c.descPubSubDelivered, float64(s.PubSubDelivered), worker)
	ch <- counter(c.descPubSubHeld, float64(s.PubSubHeld), worker)
	collectUring(ch, s, worker)
}

func gauge(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func counter(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
}

func counts(ch chan<- prometheus.Metric, d *prometheus.Desc, cs []Count, worker string) {
	for _, c := range cs {
		ch <- counter(d, float64(c.Value), worker, c.Label)
	}
}

// histogram turns per-bucket counts into the cumulative form Prometheus wants.
func histogram(d *prometheus.Desc, h Histogram, labels ...string) prometheus.Metric {
	buckets := make(map[float64]uint64, len(h.Bounds))
	var total uint64
	for i, b := range h.Bounds {
		total += h.Counts[i]
		buckets[b] = total
	}
	if len(h.Counts) > len(h.Bounds) {
		total += h.Counts[len(h.Bounds)]
	}
	return prometheus.MustNewConstHistogram(d, total, h.Sum, buckets, labels...)
}
