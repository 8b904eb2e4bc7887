package ws

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

var benchSizes = []int{32, 4 << 10, 1 << 20}

// BenchmarkDecode decodes a 64 KiB read buffer packed with frames of each
// size (a 1 MiB frame fills its own buffer). Binary payloads are unmasked
// in place on every run, which leaves them valid binary.
func BenchmarkDecode(b *testing.B) {
	for _, size := range benchSizes {
		f := frame(fin|0x2, strings.Repeat("x", size))
		buf := f
		for len(buf)+len(f) <= 64<<10 {
			buf = append(buf, f...)
		}
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			benchDecode(b, buf, len(buf))
		})
	}
	// Text frames with a zero key come out the same every run, so the
	// UTF-8 check is measured too.
	b.Run("text-4096", func(b *testing.B) {
		f := frameKey(fin|0x1, [4]byte{}, strings.Repeat("κόσμε 12", 4096/13))
		benchDecode(b, bytes.Repeat(f, 16), 1<<20)
	})
	// A 1 MiB frame arriving in 64 KiB reads takes the copying path; its
	// buffer is over keepBuffer, so it is released after every message.
	b.Run("1048576-split-64k", func(b *testing.B) {
		benchDecode(b, frame(fin|0x2, strings.Repeat("x", 1<<20)), 64<<10)
	})
}

func benchDecode(b *testing.B, buf []byte, read int) {
	var d Decoder
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		for off := 0; off < len(buf); off += read {
			p := buf[off:min(off+read, len(buf))]
			for len(p) > 0 {
				n, _, err := d.Decode(p)
				if err != nil {
					b.Fatal(err)
				}
				p = p[n:]
			}
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	for _, size := range benchSizes {
		payload := bytes.Repeat([]byte("x"), size)
		dst := make([]byte, 0, size+16)
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				dst = AppendFrame(dst[:0], true, OpBinary, payload)
			}
		})
	}
	b.Run("header", func(b *testing.B) {
		dst := make([]byte, 0, 16)
		b.ReportAllocs()
		for b.Loop() {
			dst = AppendHeader(dst[:0], true, OpText, 70000)
		}
	})
	b.Run("close", func(b *testing.B) {
		dst := make([]byte, 0, 128)
		b.ReportAllocs()
		for b.Loop() {
			dst = AppendClose(dst[:0], CloseGoingAway, "server shutting down")
		}
	})
}

func BenchmarkMask(b *testing.B) {
	for _, size := range benchSizes {
		p := make([]byte, size)
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				Mask(testKey, 1, p)
			}
		})
	}
}

func BenchmarkUTF8(b *testing.B) {
	inputs := []struct {
		name string
		text []byte
	}{
		{"ascii", bytes.Repeat([]byte("hello, world! "), 4096/14)},
		{"greek", bytes.Repeat([]byte("κόσμε "), 4096/11)},
		{"mixed", bytes.Repeat([]byte("price: 5€, smile 😀 ok "), 4096/27)},
	}
	for _, in := range inputs {
		if !utf8.Valid(in.text) {
			b.Fatal(in.name)
		}
		b.Run(in.name+"/ws", func(b *testing.B) {
			b.SetBytes(int64(len(in.text)))
			b.ReportAllocs()
			for b.Loop() {
				if !ValidUTF8(in.text) {
					b.Fatal("invalid")
				}
			}
		})
		b.Run(in.name+"/stdlib", func(b *testing.B) {
			b.SetBytes(int64(len(in.text)))
			b.ReportAllocs()
			for b.Loop() {
				if !utf8.Valid(in.text) {
					b.Fatal("invalid")
				}
			}
		})
	}
}
