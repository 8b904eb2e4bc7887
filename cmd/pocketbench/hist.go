package main

import "math/bits"

// Latency histogram: log-linear buckets over nanoseconds, HDR-like. Values
// below histSub are exact; above, each power of two is split into histSub/2
// buckets, so a bucket is at most 1/32 of its value wide (about ±1.6% when the
// midpoint is reported). Recording is an index computation and an increment:
// no allocation, no lock (each connection owns its histogram).
const (
	histSubBits  = 6
	histSub      = 1 << histSubBits // 64
	histHalf     = histSub / 2
	histMaxShift = 31 // values up to 2^37 ns (~137 s); larger ones are clamped
	histBuckets  = histSub + histMaxShift*histHalf
	histMaxValue = int64(1)<<(histMaxShift+histSubBits) - 1
)

// histogram is the per-connection recorder. uint32 counts keep it at ~4 KiB
// so thousands of connections stay cheap; one connection would need 2^32
// samples to overflow, far beyond any run.
type histogram struct {
	counts [histBuckets]uint32
}

func histIndex(v int64) int {
	if v < 0 {
		v = 0
	}
	if v > histMaxValue {
		v = histMaxValue
	}
	if v < histSub {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - histSubBits // >= 1
	top := int(v >> uint(shift))                 // in [histHalf, histSub)
	return histSub + (shift-1)*histHalf + (top - histHalf)
}

// histBucket returns the lowest value of bucket i and the bucket's width.
func histBucket(i int) (low, width int64) {
	if i < histSub {
		return int64(i), 1
	}
	shift := (i-histSub)/histHalf + 1
	top := int64((i-histSub)%histHalf + histHalf)
	return top << uint(shift), int64(1) << uint(shift)
}

func (h *histogram) record(ns int64) { h.counts[histIndex(ns)]++ }

// histTotal is the merged histogram with 64-bit counts.
type histTotal struct {
	counts [histBuckets]uint64
	n      uint64
}

func (t *histTotal) add(h *histogram) {
	for i, c := range h.counts {
		if c != 0 {
			t.counts[i] += uint64(c)
			t.n += uint64(c)
		}
	}
}

func (t *histTotal) record(ns int64) {
	t.counts[histIndex(ns)]++
	t.n++
}

// percentile returns the value (ns) at quantile q in [0,1]: the midpoint of
// the bucket holding the ceil(q*n)-th sample, or 0 for an empty histogram.
func (t *histTotal) percentile(q float64) int64 {
	if t.n == 0 {
		return 0
	}
	rank := uint64(q*float64(t.n) + 0.999999999)
	if rank < 1 {
		rank = 1
	}
	if rank > t.n {
		rank = t.n
	}
	var seen uint64
	for i, c := range t.counts {
		seen += c
		if seen >= rank {
			low, w := histBucket(i)
			return low + (w-1)/2
		}
	}
	low, w := histBucket(histBuckets - 1)
	return low + (w-1)/2
}
