package ws

import (
	"compress/flate"
	"fmt"
	"runtime"
	"syscall"
	"testing"
)

// cpuTime is the process's user and system CPU time in nanoseconds; on a
// busy machine it says more about an operation's cost than the wall clock.
func cpuTime() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkDeflateChat compresses a JSON chat workload (messages of about
// 100-300 bytes) one message per op, with and without server context
// takeover, at several levels; "ratio" is plain bytes over frame bytes.
func BenchmarkDeflateChat(b *testing.B) {
	msgs := chatMessages(1000)
	for _, takeover := range []bool{false, true} {
		for _, level := range []int{1, 2, 6, 9} {
			p := noTakeover
			if takeover {
				p = takeoverParams
			}
			b.Run(fmt.Sprintf("takeover=%v/level=%d", takeover, level), func(b *testing.B) {
				d := NewDeflater(p, level, 0)
				defer d.Release()
				var buf []byte
				var in, out int64
				b.ReportAllocs()
				cpu0 := cpuTime()
				for i := 0; b.Loop(); i++ {
					m := msgs[i%len(msgs)]
					var fr []byte
					fr, buf = d.Frame(buf, OpText, m)
					if fr == nil {
						fr = m
					}
					in += int64(len(m))
					out += int64(len(fr))
				}
				b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
				b.SetBytes(in / int64(b.N))
				b.ReportMetric(float64(in)/float64(out), "ratio")
			})
		}
	}
}

// BenchmarkInflateChat inflates the same workload, with the client's
// context takeover (history handed to a pooled reader for every message)
// and without.
func BenchmarkInflateChat(b *testing.B) {
	msgs := chatMessages(1000)
	for _, takeover := range []bool{false, true} {
		b.Run(fmt.Sprintf("takeover=%v", takeover), func(b *testing.B) {
			p := noTakeover
			if takeover {
				p = takeoverParams
			}
			// The client's stream, made once; replayed from the start with
			// a fresh Inflater whenever it runs out, so the history always
			// matches.
			d := NewDeflater(p, 6, 0)
			var frames [][]byte
			for _, m := range msgs {
				fr, _ := d.Frame(nil, OpText, m)
				frames = append(frames, fr[HeaderSize(len(fr)-2):])
			}
			d.Release()
			f := NewInflater(DeflateParams{ClientNoContextTakeover: !takeover, ClientMaxWindowBits: 15}, 0)
			var out []byte
			var total int64
			b.ReportAllocs()
			cpu0 := cpuTime()
			for i := 0; b.Loop(); i++ {
				if i%len(frames) == 0 {
					f = NewInflater(DeflateParams{ClientNoContextTakeover: !takeover, ClientMaxWindowBits: 15}, 0)
				}
				var err error
				out, err = f.Inflate(out[:0], frames[i%len(frames)])
				if err != nil {
					b.Fatal(err)
				}
				total += int64(len(out))
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
			b.SetBytes(total / int64(b.N))
		})
	}
}

// BenchmarkDeflateBig compresses one 64 KiB JSON message per op.
func BenchmarkDeflateBig(b *testing.B) {
	var big []byte
	for _, m := range chatMessages(400) {
		big = append(big, m...)
	}
	big = big[:64<<10]
	for _, level := range []int{1, 2, 6} {
		b.Run(fmt.Sprintf("level=%d", level), func(b *testing.B) {
			d := NewDeflater(noTakeover, level, 0)
			var buf []byte
			var out int
			b.SetBytes(int64(len(big)))
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				var fr []byte
				fr, buf = d.Frame(buf, OpText, big)
				out = len(fr)
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(len(big))/float64(out), "ratio")
		})
	}
}

// BenchmarkDeflateMemory reports the heap a connection's compression
// state holds after one message: a takeover Deflater (its own
// flate.Writer) by level, and an Inflater's history with the client's
// context takeover. Without takeover neither holds anything.
func BenchmarkDeflateMemory(b *testing.B) {
	msgs := chatMessages(1000)
	const n = 50
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	for _, level := range []int{1, 2, 6, 9} {
		b.Run(fmt.Sprintf("deflater-takeover/level=%d", level), func(b *testing.B) {
			for b.Loop() {
				before := heap()
				ds := make([]*Deflater, n)
				for i := range ds {
					ds[i] = NewDeflater(takeoverParams, level, 0)
					getDeflateStateFresh(ds[i])
					ds[i].Frame(nil, OpText, msgs[i])
				}
				b.ReportMetric(float64(heap()-before)/n, "B/conn")
				runtime.KeepAlive(ds)
			}
		})
	}
	b.Run("inflater-history-32KiB", func(b *testing.B) {
		for b.Loop() {
			before := heap()
			fs := make([]*Inflater, n)
			for i := range fs {
				fs[i] = NewInflater(takeoverParams, 0)
				for _, m := range msgs[:200] { // about 37 KiB of traffic
					fs[i].remember(m)
				}
			}
			b.ReportMetric(float64(heap()-before)/n, "B/conn")
			runtime.KeepAlive(fs)
		}
	})
	b.Run("pooled-reader", func(b *testing.B) {
		for b.Loop() {
			before := heap()
			rs := make([]any, n)
			for i := range rs {
				rs[i] = inflatePool.New()
			}
			b.ReportMetric(float64(heap()-before)/n, "B/each")
			runtime.KeepAlive(rs)
		}
	})
}

// getDeflateStateFresh gives d a new writer rather than one from the pool,
// so the measurement counts every connection's own.
func getDeflateStateFresh(d *Deflater) {
	st := &deflateState{}
	st.fw, _ = flate.NewWriter(&st.sink, d.level)
	d.st = st
}
