package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
)

// Result is one run's outcome. Pointer fields are omitted from the JSON
// when they do not apply to the mode or could not be measured.
type Result struct {
	Mode     string  `json:"mode"`
	Target   string  `json:"target"`
	Conns    int     `json:"conns"`
	Size     *int    `json:"size,omitempty"`
	Pipeline *int    `json:"pipeline,omitempty"`
	Duration float64 `json:"duration_s"`

	Messages  *uint64  `json:"messages,omitempty"`
	MsgsPerS  *float64 `json:"msgs_per_s,omitempty"`
	MBPerS    *float64 `json:"mb_per_s,omitempty"`
	P50us     *float64 `json:"p50_us,omitempty"`
	P99us     *float64 `json:"p99_us,omitempty"`
	P999us    *float64 `json:"p999_us,omitempty"`
	Open      *int     `json:"open_conns,omitempty"`
	RSSPer    *float64 `json:"rss_per_conn_bytes,omitempty"`
	RSSBefore *int64   `json:"rss_before_bytes,omitempty"`
	RSSAfter  *int64   `json:"rss_after_bytes,omitempty"`

	TLSVersion             string      `json:"tls_version,omitempty"`
	NotResumed             *uint64     `json:"not_resumed,omitempty"` // connect --tls-resume: full handshakes, not counted
	IdleEcho               []idleRound `json:"idle_echo,omitempty"`
	Handshakes             *uint64     `json:"handshakes,omitempty"`
	HandshakesPerS         *float64    `json:"handshakes_per_s,omitempty"`
	HandshakesPerServerCPU *float64    `json:"handshakes_per_server_cpu_s,omitempty"`

	// fanout
	Proto          string   `json:"proto,omitempty"`
	Publishers     *int     `json:"publishers,omitempty"`
	Rate           *int     `json:"rate_per_s,omitempty"`
	Published      *uint64  `json:"published,omitempty"`
	Lost           *uint64  `json:"lost,omitempty"`
	ServerUsPerMsg *float64 `json:"server_cpu_us_per_msg,omitempty"`

	Errors     uint64            `json:"errors"`
	ErrorKinds map[string]uint64 `json:"error_kinds,omitempty"`

	ServerCPU        *float64 `json:"server_cpu_s,omitempty"`
	MsgsPerServerCPU *float64 `json:"msgs_per_server_cpu_s,omitempty"`
	BenchCPU         *float64 `json:"bench_cpu_s,omitempty"`
}

func ptr[T any](v T) *T { return &v }

// setLatency stores the percentiles of h (nanoseconds) in microseconds.
func (r *Result) setLatency(h *histTotal) {
	if h.n == 0 {
		return
	}
	us := func(q float64) *float64 { return ptr(float64(h.percentile(q)) / 1e3) }
	r.P50us, r.P99us, r.P999us = us(0.50), us(0.99), us(0.999)
}

// writeJSON prints the result as one JSON object on one line.
func (r *Result) writeJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// writeTable prints the result for a human, one aligned row per measure.
func (r *Result) writeTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, v ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, v...)...) }
	row("mode", "%s", r.Mode)
	row("target", "%s", r.Target)
	row("conns", "%d", r.Conns)
	if r.Size != nil {
		row("size", "%d B", *r.Size)
	}
	if r.Pipeline != nil {
		row("pipeline", "%d", *r.Pipeline)
	}
	if r.Proto != "" {
		row("protocol", "%s", r.Proto)
	}
	if r.Publishers != nil && r.Rate != nil {
		row("publishers, rate", "%d, %d/s", *r.Publishers, *r.Rate)
	}
	if r.Mode == "idle" {
		row("time to open all", "%.3f s", r.Duration) // idle has no window; duration_s is this
	} else {
		row("duration", "%.3f s", r.Duration)
	}
	if r.Messages != nil {
		row("messages", "%d", *r.Messages)
	}
	if r.Published != nil {
		row("published (whole run)", "%d", *r.Published)
	}
	if r.MsgsPerS != nil {
		row("msgs/s", "%.0f", *r.MsgsPerS)
	}
	if r.Lost != nil {
		row("lost deliveries", "%d", *r.Lost)
	}
	if r.MBPerS != nil {
		row("MB/s (payload, each way)", "%.2f", *r.MBPerS)
	}
	if r.TLSVersion != "" {
		row("tls", "%s", r.TLSVersion)
	}
	if r.Handshakes != nil {
		row("handshakes", "%d", *r.Handshakes)
	}
	if r.NotResumed != nil {
		row("not resumed (not counted)", "%d", *r.NotResumed)
	}
	if r.HandshakesPerS != nil {
		row("handshakes/s", "%.0f", *r.HandshakesPerS)
	}
	if r.P50us != nil {
		row("latency p50/p99/p99.9", "%.1f / %.1f / %.1f µs", *r.P50us, *r.P99us, *r.P999us)
	}
	if r.Open != nil {
		row("open conns", "%d", *r.Open)
	}
	if r.RSSBefore != nil && r.RSSAfter != nil {
		row("server RSS before/after", "%.1f / %.1f MiB", float64(*r.RSSBefore)/(1<<20), float64(*r.RSSAfter)/(1<<20))
	}
	if r.RSSPer != nil {
		row("server RSS per conn", "%.0f B", *r.RSSPer)
	}
	for _, e := range r.IdleEcho {
		row(fmt.Sprintf("after one %d B echo each", e.Size), "RSS %.1f MiB, %.0f B per conn", float64(e.RSS)/(1<<20), e.RSSPer)
	}
	if r.ServerCPU != nil {
		row("server CPU", "%.3f s", *r.ServerCPU)
	}
	if r.MsgsPerServerCPU != nil {
		row("msgs per server CPU-s", "%.0f", *r.MsgsPerServerCPU)
	}
	if r.ServerUsPerMsg != nil {
		row("server CPU per msg", "%.2f µs", *r.ServerUsPerMsg)
	}
	if r.HandshakesPerServerCPU != nil {
		row("handshakes per server CPU-s", "%.0f", *r.HandshakesPerServerCPU)
	}
	if r.BenchCPU != nil {
		row("pocketbench CPU", "%.3f s", *r.BenchCPU)
	}
	kinds := make([]string, 0, len(r.ErrorKinds))
	for k, n := range r.ErrorKinds {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(kinds)
	if len(kinds) > 0 {
		row("errors", "%d (%s)", r.Errors, strings.Join(kinds, ", "))
	} else {
		row("errors", "%d", r.Errors)
	}
	return tw.Flush()
}

// Error kinds, counted separately so a report says what went wrong.
type errKind int

const (
	errDial       errKind = iota // TCP connect failed
	errHandshake                 // upgrade response missing or invalid
	errEcho                      // echoed bytes differ, or lost/reordered messages
	errProtocol                  // server sent a frame that breaks RFC 6455
	errClosed                    // server closed (close frame or EOF) during the run
	errTimeout                   // echo or close reply did not come in time
	errIO                        // any other read/write failure
	errCloseReply                // our close frame got no close frame back
	errTLS                       // TLS handshake failed
	numErrKinds
)

var errKindNames = [numErrKinds]string{"dial", "handshake", "bad_echo", "protocol", "unexpected_close", "timeout", "io", "no_close_reply", "tls"}

// maxPrinted is how many errors are described on stderr; the rest are counted.
const maxPrinted = 5

// errorLog counts errors from all connections and prints the first few.
type errorLog struct {
	counts  [numErrKinds]atomic.Uint64
	printed atomic.Int32
	mu      sync.Mutex // serialises writes to w
	w       io.Writer
}

func (e *errorLog) add(k errKind, conn int, err error) {
	e.counts[k].Add(1)
	if e.printed.Add(1) <= maxPrinted && e.w != nil {
		e.mu.Lock()
		fmt.Fprintf(e.w, "pocketbench: conn %d: %s: %v\n", conn, errKindNames[k], err)
		e.mu.Unlock()
	}
}

func (e *errorLog) total() uint64 {
	var n uint64
	for i := range e.counts {
		n += e.counts[i].Load()
	}
	return n
}

func (e *errorLog) fill(r *Result) {
	r.Errors = e.total()
	for i := range e.counts {
		if n := e.counts[i].Load(); n > 0 {
			if r.ErrorKinds == nil {
				r.ErrorKinds = map[string]uint64{}
			}
			r.ErrorKinds[errKindNames[i]] = n
		}
	}
}
