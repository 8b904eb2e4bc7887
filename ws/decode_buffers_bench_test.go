package ws

import (
	"strings"
	"testing"
)

// freeList is a minimal Allocator with Spare, like the loop's recycler.
type freeList struct{ free [][]byte }

func (f *freeList) Get(n int) []byte {
	if b := f.Spare(n); b != nil {
		return b
	}
	return make([]byte, 0, n)
}

func (f *freeList) Spare(n int) []byte {
	for i, b := range f.free {
		if cap(b) >= n {
			f.free[i] = f.free[len(f.free)-1]
			f.free = f.free[:len(f.free)-1]
			return b[:0]
		}
	}
	return nil
}

func (f *freeList) Put(b []byte) { f.free = append(f.free, b) }

// BenchmarkDecodeLent is the copying path (messages split across reads)
// with a lent buffer: after the first message nothing is allocated.
func BenchmarkDecodeLent(b *testing.B) {
	for _, c := range []struct {
		name       string
		size, read int
	}{{"4096-split-1000", 4 << 10, 1000}, {"1048576-split-64k", 1 << 20, 64 << 10}} {
		b.Run(c.name, func(b *testing.B) {
			buf := frame(fin|0x2, strings.Repeat("x", c.size))
			d := Decoder{Buffers: &freeList{}}
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				for off := 0; off < len(buf); off += c.read {
					p := buf[off:min(off+c.read, len(buf))]
					for len(p) > 0 {
						n, ev, err := d.Decode(p)
						if err != nil {
							b.Fatal(err)
						}
						if ev.Kind == EventMessage {
							d.Release()
						}
						p = p[n:]
					}
				}
			}
		})
	}
}
