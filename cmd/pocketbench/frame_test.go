package main

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"
)

func TestAcceptKeyRFC(t *testing.T) {
	// RFC 6455 §1.3 example.
	if got := acceptKey("dGhlIHNhbXBsZSBub25jZQ=="); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("acceptKey = %q", got)
	}
}

func TestCheckResponse(t *testing.T) {
	key := "dGhlIHNhbXBsZSBub25jZQ=="
	good := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
	if err := checkResponse([]byte(good), key); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		"HTTP/1.1 200 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
		"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAA",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Extensions: permessage-deflate",
	} {
		if err := checkResponse([]byte(bad), key); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// serverFrame builds an unmasked server frame.
func serverFrame(fin bool, op byte, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	b := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		b = append(b, byte(n))
	case n <= math.MaxUint16:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, payload...)
}

// unmask decodes a client frame built by appendClientFrame.
func unmask(t *testing.T, f []byte) (op byte, payload []byte) {
	t.Helper()
	if f[0]&0x80 == 0 || f[1]&0x80 == 0 {
		t.Fatalf("client frame not final or not masked: % x", f[:2])
	}
	n, h := int(f[1]&0x7F), 2
	switch n {
	case 126:
		n, h = int(binary.BigEndian.Uint16(f[2:])), 4
	case 127:
		n, h = int(binary.BigEndian.Uint64(f[2:])), 10
	}
	mask := f[h : h+4]
	p := append([]byte(nil), f[h+4:]...)
	if len(p) != n {
		t.Fatalf("length %d, header says %d", len(p), n)
	}
	for i := range p {
		p[i] ^= mask[i&3]
	}
	return f[0] & 0xF, p
}

func TestClientFrameAndSeq(t *testing.T) {
	for _, size := range []int{0, 1, 15, 16, 17, 125, 126, 65535, 65536} {
		p := make([]byte, size)
		fillPayload(p, false, 3)
		f := newEchoFrame(p, opBinary, [4]byte{0xde, 0xad, 0xbe, 0xef})
		if len(f.buf) != clientHeaderLen(size)+size {
			t.Fatalf("size %d: frame is %d bytes", size, len(f.buf))
		}
		f.setSeq(0x1234567890abcdef)
		op, got := unmask(t, f.buf)
		want := append([]byte(nil), p...)
		putSeq(want[:seqDigits(size)], 0x1234567890abcdef)
		if op != opBinary || !bytes.Equal(got, want) {
			t.Fatalf("size %d: payload mismatch", size)
		}
		if size >= 16 && string(got[:16]) != "1234567890abcdef" {
			t.Fatalf("seq digits %q", got[:16])
		}
	}
}

// TestFrameReaderSplits feeds a fragmented echo plus control frames one
// byte at a time and all at once: the results must be the same.
func TestFrameReaderSplits(t *testing.T) {
	payload := make([]byte, 70000)
	fillPayload(payload, false, 0)
	putSeq(payload[:16], 0)
	var stream []byte
	stream = append(stream, serverFrame(false, opBinary, payload[:100])...)
	stream = append(stream, serverFrame(true, opPing, []byte("hi"))...)
	stream = append(stream, serverFrame(false, opCont, nil)...)
	stream = append(stream, serverFrame(false, opCont, payload[100:300])...)
	stream = append(stream, serverFrame(true, opCont, payload[300:])...)
	stream = append(stream, serverFrame(true, opBinary, nil)...)
	for _, step := range []int{1, 7, 4096, len(stream)} {
		var r frameReader
		chk := newEchoCheck(payload)
		var ends, pings int
		for b := stream; len(b) > 0; {
			chunk := b[:min(step, len(b))]
			for len(chunk) > 0 {
				res, err := r.next(chunk)
				if err != nil {
					t.Fatalf("step %d: %v", step, err)
				}
				chunk, b = chunk[res.n:], b[res.n:]
				if ends == 0 {
					if err := chk.data(res.data); err != nil {
						t.Fatal(err)
					}
				}
				if res.ctrl == opPing {
					pings++
					if string(r.ctrl[:r.ctrlN]) != "hi" {
						t.Fatalf("ping payload %q", r.ctrl[:r.ctrlN])
					}
				}
				if res.msgEnd {
					if ends == 0 {
						if err := chk.end(); err != nil {
							t.Fatal(err)
						}
					} else if res.msgOp != opBinary {
						t.Fatalf("empty message opcode %d", res.msgOp)
					}
					ends++
				}
			}
		}
		if ends != 2 || pings != 1 {
			t.Fatalf("step %d: %d messages, %d pings", step, ends, pings)
		}
	}
}

func TestFrameReaderRejects(t *testing.T) {
	for name, f := range map[string][]byte{
		"masked":       {0x82, 0x81, 1, 2, 3, 4, 5},
		"rsv":          {0xC2, 0x00},
		"control-frag": {0x09, 0x00},
		"control-long": append([]byte{0x89, 126, 0, 126}, make([]byte, 126)...),
		"cont-first":   {0x80, 0x00},
		"nested":       append(serverFrame(false, opText, []byte("a")), serverFrame(true, opText, []byte("b"))...),
		"opcode":       {0x83, 0x00},
		"len-msb":      {0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0},
	} {
		var r frameReader
		var err error
		for b := f; len(b) > 0 && err == nil; {
			var res readResult
			res, err = r.next(b)
			b = b[res.n:]
		}
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestEchoCheck(t *testing.T) {
	p := make([]byte, 40)
	fillPayload(p, true, 1)
	c := newEchoCheck(p)
	msg := func(seq uint64) []byte {
		m := append([]byte(nil), p...)
		putSeq(m[:16], seq)
		return m
	}
	for seq := range uint64(3) {
		if err := c.data(msg(seq)); err != nil {
			t.Fatal(err)
		}
		if err := c.end(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.data(msg(4)); err == nil { // message 3 was skipped
		t.Fatal("lost message not detected")
	}
	c.off = 0
	if err := c.data(msg(3)[:20]); err != nil {
		t.Fatal(err)
	}
	if err := c.end(); err == nil {
		t.Fatal("short echo not detected")
	}
	c.off = 0
	if err := c.data(append(msg(3), 'x')); err == nil {
		t.Fatal("long echo not detected")
	}
}

func TestHistogram(t *testing.T) {
	// Exact below histSub; relative error within one bucket above it.
	for _, v := range []int64{0, 1, 63, 64, 65, 1000, 123456, 1e9, histMaxValue} {
		low, w := histBucket(histIndex(v))
		if v < low || v >= low+w {
			t.Fatalf("%d is outside its bucket [%d,%d)", v, low, low+w)
		}
		if v >= histSub && float64(w)/float64(v) > 1.0/32 {
			t.Fatalf("bucket of %d is %d wide", v, w)
		}
	}
	if histIndex(histMaxValue*4) != histBuckets-1 || histIndex(-5) != 0 {
		t.Fatal("out-of-range values are not clamped")
	}
	// 1..100000 µs uniformly: p50 = 50 ms, p99 = 99 ms, p99.9 = 99.9 ms.
	var h histogram
	for us := int64(1); us <= 100000; us++ {
		h.record(us * 1000)
	}
	var tot histTotal
	tot.add(&h)
	for _, c := range []struct{ q, want float64 }{{0.5, 50e6}, {0.99, 99e6}, {0.999, 99.9e6}, {1, 100e6}} {
		got := float64(tot.percentile(c.q))
		if math.Abs(got-c.want)/c.want > 0.02 {
			t.Errorf("p%v = %.0f, want %.0f ±2%%", c.q*100, got, c.want)
		}
	}
	// Small exact values: 90 samples of 10 ns, 10 of 50 ns.
	var small histTotal
	for i := range 100 {
		small.record(map[bool]int64{true: 50, false: 10}[i >= 90])
	}
	if small.percentile(0.5) != 10 || small.percentile(0.9) != 10 || small.percentile(0.91) != 50 || small.percentile(0.999) != 50 {
		t.Fatalf("small: %d %d %d", small.percentile(0.5), small.percentile(0.91), small.percentile(0.999))
	}
	var empty histTotal
	if empty.percentile(0.5) != 0 {
		t.Fatal("empty histogram")
	}
}

func TestHistogramRecordNoAlloc(t *testing.T) {
	var h histogram
	if n := testing.AllocsPerRun(100, func() { h.record(123456) }); n != 0 {
		t.Fatalf("record allocates %v", n)
	}
}
