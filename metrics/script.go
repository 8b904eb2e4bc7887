package metrics

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultMaxSeries caps the label sets one script metric may hold.
const DefaultMaxSeries = 1000

// maxLabelValue bounds one label value, in bytes.
const maxLabelValue = 1024

// Registry holds the metrics scripts define, shared by every worker:
// each series keeps one slot per worker, so workers never contend, and a
// scrape sums the slots into one series. A name keeps its type and labels
// for the life of the process, across reloads.
type Registry struct {
	workers   int
	maxSeries int

	mu     sync.Mutex                // serializes Define
	byName map[string]int            // name -> id
	fams   atomic.Pointer[[]*family] // by id; replaced, never changed in place
}

type family struct {
	kind    string // "counter", "gauge" or "histogram"
	name    string
	help    string
	labels  []string
	buckets []float64
	desc    *prometheus.Desc
	max     int

	mu     sync.RWMutex
	series map[string]*series // by label values joined with \xff
	single *series            // a metric without labels
}

type series struct {
	values []string
	vals   []atomicFloat // counter, gauge: one per worker
	hist   []histSlot    // histogram: one per worker
}

type histSlot struct {
	counts []atomic.Uint64 // per bucket, one more for +Inf
	sum    atomicFloat
}

type atomicFloat struct{ bits atomic.Uint64 }

func (f *atomicFloat) load() float64   { return math.Float64frombits(f.bits.Load()) }
func (f *atomicFloat) store(v float64) { f.bits.Store(math.Float64bits(v)) }
func (f *atomicFloat) add(v float64) {
	for {
		old := f.bits.Load()
		if f.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// NewRegistry makes a registry for workers loops; maxSeries caps the label
// sets of one metric (0: DefaultMaxSeries).
func NewRegistry(workers, maxSeries int) *Registry {
	if maxSeries <= 0 {
		maxSeries = DefaultMaxSeries
	}
	r := &Registry{workers: max(workers, 1), maxSeries: maxSeries, byName: make(map[string]int)}
	r.fams.Store(&[]*family{})
	return r
}

// reservedPrefixes are the namespaces of the server's own metrics.
var reservedPrefixes = []string{"pocketlua_", "go_", "process_", "promhttp_"}

// Define registers a metric, or finds the one already defined with the
// same name, type, labels and buckets (a reload, another worker). kind is
// "counter", "gauge" or "histogram"; buckets (histograms only) nil takes
// Prometheus's defaults.
func (r *Registry) Define(kind, name, help string, labels []string, buckets []float64) (int, error) {
	if err := checkName(name); err != nil {
		return 0, err
	}
	for _, p := range reservedPrefixes {
		if strings.HasPrefix(name, p) {
			return 0, fmt.Errorf("metric name %q: the prefix %q belongs to the server's own metrics", name, p)
		}
	}
	if err := checkLabels(kind, labels); err != nil {
		return 0, fmt.Errorf("metric %q: %w", name, err)
	}
	if kind == "histogram" {
		if buckets == nil {
			buckets = prometheus.DefBuckets
		}
		if err := checkBuckets(buckets); err != nil {
			return 0, fmt.Errorf("metric %q: %w", name, err)
		}
	} else {
		buckets = nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	fams := *r.fams.Load()
	if id, ok := r.byName[name]; ok {
		f := fams[id]
		if f.kind != kind || !slices.Equal(f.labels, labels) || !slices.Equal(f.buckets, buckets) {
			return 0, fmt.Errorf("metric %q is already a %s%s; a metric keeps its type, labels and buckets while the process runs (the old definition stays)",
				name, f.kind, describeShape(f.labels, f.buckets))
		}
		return id, nil
	}
	if clash := r.clash(kind, name); clash != "" {
		return 0, fmt.Errorf("metric %q: its series would clash with the histogram or metric %q", name, clash)
	}
	f := &family{kind: kind, name: name, help: help, labels: slices.Clone(labels), buckets: slices.Clone(buckets), max: r.maxSeries,
		series: make(map[string]*series)}
	f.desc = prometheus.NewDesc(name, help, f.labels, nil)
	if len(labels) == 0 {
		f.single = r.newSeries(f, nil)
	}
	next := append(slices.Clip(fams), f)
	r.byName[name] = len(next) - 1
	r.fams.Store(&next)
	return len(next) - 1, nil
}

// clash finds a defined name that a histogram's _bucket, _sum and _count
// series would collide with, either way.
func (r *Registry) clash(kind, name string) string {
	suffixes := []string{"_bucket", "_sum", "_count"}
	fams := *r.fams.Load()
	for _, sfx := range suffixes {
		if base, ok := strings.CutSuffix(name, sfx); ok {
			if id, ok := r.byName[base]; ok && fams[id].kind == "histogram" {
				return base
			}
		}
		if kind == "histogram" {
			if _, ok := r.byName[name+sfx]; ok {
				return name + sfx
			}
		}
	}
	return ""
}

func describeShape(labels []string, buckets []float64) string {
	s := " without labels"
	if len(labels) > 0 {
		s = " with labels {" + strings.Join(labels, ", ") + "}"
	}
	if buckets != nil {
		s += fmt.Sprintf(" and buckets %v", buckets)
	}
	return s
}

func (r *Registry) newSeries(f *family, values []string) *series {
	s := &series{values: values}
	if f.kind == "histogram" {
		s.hist = make([]histSlot, r.workers)
		for i := range s.hist {
			s.hist[i].counts = make([]atomic.Uint64, len(f.buckets)+1)
		}
	} else {
		s.vals = make([]atomicFloat, r.workers)
	}
	return s
}

// seriesFor finds or makes the series of values; values are in the
// family's label order, checked by the caller's count.
func (r *Registry) seriesFor(id int, values []string) (*family, *series, error) {
	fams := *r.fams.Load()
	if id < 0 || id >= len(fams) {
		return nil, nil, errors.New("unknown metric")
	}
	f := fams[id]
	if len(values) != len(f.labels) {
		return nil, nil, fmt.Errorf("metric %q takes %d label values, got %d", f.name, len(f.labels), len(values))
	}
	if f.single != nil {
		return f, f.single, nil
	}
	key := strings.Join(values, "\xff")
	f.mu.RLock()
	s := f.series[key]
	f.mu.RUnlock()
	if s != nil {
		return f, s, nil
	}
	for i, v := range values {
		if !utf8.ValidString(v) || len(v) > maxLabelValue {
			return nil, nil, fmt.Errorf("metric %q: label %s: a value must be valid UTF-8 of at most %d bytes", f.name, f.labels[i], maxLabelValue)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if s = f.series[key]; s != nil {
		return f, s, nil
	}
	if len(f.series) >= f.max {
		return nil, nil, fmt.Errorf("metric %q has %d label sets already, the cap (--metrics-max-series); label values must come from a small set", f.name, f.max)
	}
	s = r.newSeries(f, slices.Clone(values))
	f.series[key] = s
	return f, s, nil
}

func (r *Registry) slot(worker int) int { return min(max(worker, 1), r.workers) - 1 }

// Add adds v to a counter (v >= 0) or a gauge, in worker's slot.
func (r *Registry) Add(id, worker int, values []string, v float64) error {
	f, s, err := r.seriesFor(id, values)
	if err != nil {
		return err
	}
	switch {
	case f.kind == "histogram":
		return fmt.Errorf("histogram %q has observe, not add", f.name)
	case math.IsNaN(v) || math.IsInf(v, 0):
		return fmt.Errorf("metric %q: %v is not a finite number", f.name, v)
	case f.kind == "counter" && v < 0:
		return fmt.Errorf("counter %q only goes up; add %v refused (use a gauge)", f.name, v)
	}
	s.vals[r.slot(worker)].add(v)
	return nil
}

// Set sets a gauge's value in worker's slot; a scrape sums the slots.
func (r *Registry) Set(id, worker int, values []string, v float64) error {
	f, s, err := r.seriesFor(id, values)
	if err != nil {
		return err
	}
	if f.kind != "gauge" {
		return fmt.Errorf("%s %q has no set (only gauges do)", f.kind, f.name)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("metric %q: %v is not a finite number", f.name, v)
	}
	s.vals[r.slot(worker)].store(v)
	return nil
}

// Observe records v in a histogram, in worker's slot.
func (r *Registry) Observe(id, worker int, values []string, v float64) error {
	f, s, err := r.seriesFor(id, values)
	if err != nil {
		return err
	}
	if f.kind != "histogram" {
		return fmt.Errorf("%s %q has no observe (only histograms do)", f.kind, f.name)
	}
	if math.IsNaN(v) {
		return fmt.Errorf("histogram %q: NaN is not an observation", f.name)
	}
	h := &s.hist[r.slot(worker)]
	i, _ := slices.BinarySearch(f.buckets, v) // the first bound >= v
	h.counts[i].Add(1)
	h.sum.add(v)
	return nil
}

// Describe sends nothing: scripts define metrics while the server runs,
// so the registry is an unchecked collector.
func (r *Registry) Describe(chan<- *prometheus.Desc) {}

// Collect sums every series over the workers.
func (r *Registry) Collect(ch chan<- prometheus.Metric) {
	for _, f := range *r.fams.Load() {
		var list []*series
		if f.single != nil {
			list = []*series{f.single}
		} else {
			f.mu.RLock()
			for _, s := range f.series {
				list = append(list, s)
			}
			f.mu.RUnlock()
		}
		for _, s := range list {
			ch <- f.metric(s)
		}
	}
}

func (f *family) metric(s *series) prometheus.Metric {
	if f.kind == "histogram" {
		buckets := make(map[float64]uint64, len(f.buckets))
		var total uint64
		var sum float64
		counts := make([]uint64, len(f.buckets)+1)
		for i := range s.hist {
			for b := range counts {
				counts[b] += s.hist[i].counts[b].Load()
			}
			sum += s.hist[i].sum.load()
		}
		for b, bound := range f.buckets {
			total += counts[b]
			buckets[bound] = total
		}
		total += counts[len(f.buckets)]
		return prometheus.MustNewConstHistogram(f.desc, total, sum, buckets, s.values...)
	}
	var v float64
	for i := range s.vals {
		v += s.vals[i].load()
	}
	t := prometheus.GaugeValue
	if f.kind == "counter" {
		t = prometheus.CounterValue
	}
	return prometheus.MustNewConstMetric(f.desc, t, v, s.values...)
}

func checkName(name string) error {
	if name == "" {
		return errors.New("a metric needs a name")
	}
	for i, c := range name {
		if !(c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return fmt.Errorf("metric name %q: want letters, digits, _ and : (not first a digit)", name)
		}
	}
	return nil
}

func checkLabels(kind string, labels []string) error {
	if len(labels) > 16 {
		return fmt.Errorf("%d labels; at most 16", len(labels))
	}
	for i, l := range labels {
		ok := l != ""
		for j, c := range l {
			if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || j > 0 && c >= '0' && c <= '9') {
				ok = false
			}
		}
		switch {
		case !ok:
			return fmt.Errorf("label name %q: want letters, digits and _ (not first a digit)", l)
		case strings.HasPrefix(l, "__"):
			return fmt.Errorf("label name %q: names starting with __ are reserved", l)
		case kind == "histogram" && l == "le":
			return errors.New(`label name "le" is a histogram's bucket label`)
		case slices.Contains(labels[:i], l):
			return fmt.Errorf("label %q named twice", l)
		}
	}
	return nil
}

func checkBuckets(b []float64) error {
	if len(b) == 0 || len(b) > 64 {
		return fmt.Errorf("%d buckets; want 1 to 64", len(b))
	}
	for i, v := range b {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("bucket %v: bounds must be finite (+Inf is implied)", v)
		}
		if i > 0 && v <= b[i-1] {
			return fmt.Errorf("buckets must increase: %v after %v", v, b[i-1])
		}
	}
	return nil
}
