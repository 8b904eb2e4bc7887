package metrics

import "github.com/prometheus/client_golang/prometheus"

// The io_uring receive buffer ring's series, a block of their own. Every
// worker has them, 0 unless it runs --poller io_uring with completion I/O,
// so a dashboard's queries hold whatever the poller.
var (
	descUringBuffers     = newDesc("uring_buffers", "io_uring receive buffers the worker keeps posted now (0 on other pollers).")
	descUringBuffersPeak = newDesc("uring_buffers_peak", "The most io_uring receive buffers the worker kept posted since it started.")
	descUringBuffersMax  = newDesc("uring_buffers_max", "The most io_uring receive buffers the worker may post: --uring-buffers.")
	descUringGrown       = newDesc("uring_ring_grown_total", "Times the io_uring buffer ring doubled because receives ran it dry.")
	descUringShrunk      = newDesc("uring_ring_shrunk_total", "Times the io_uring buffer ring fell back after low use.")
)

func describeUring(ch chan<- *prometheus.Desc) {
	ch <- descUringBuffers
	ch <- descUringBuffersPeak
	ch <- descUringBuffersMax
	ch <- descUringGrown
	ch <- descUringShrunk
}

func collectUring(ch chan<- prometheus.Metric, s *Sample, worker string) {
	ch <- gauge(descUringBuffers, float64(s.UringBuffers), worker)
	ch <- gauge(descUringBuffersPeak, float64(s.UringBuffersPeak), worker)
	ch <- gauge(descUringBuffersMax, float64(s.UringBuffersMax), worker)
	ch <- counter(descUringGrown, float64(s.UringGrown), worker)
	ch <- counter(descUringShrunk, float64(s.UringShrunk), worker)
}
