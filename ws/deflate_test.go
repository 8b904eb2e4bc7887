package ws

import (
	"bytes"
	"compress/flate"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

func hexBytes(s string) []byte {
	var b []byte
	for _, f := range strings.Fields(s) {
		var x byte
		fmt.Sscanf(f, "0x%02x", &x)
		b = append(b, x)
	}
	return b
}

var (
	takeoverParams = DeflateParams{ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}
	noTakeover     = DeflateParams{ServerNoContextTakeover: true, ClientNoContextTakeover: true, ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}
)

func mustInflate(t *testing.T, f *Inflater, payload []byte) string {
	t.Helper()
	out, err := f.Inflate(nil, payload)
	if err != nil {
		t.Fatalf("inflating % x: %v", payload, err)
	}
	return string(out)
}

// TestDeflateRFC7692Examples inflates the payloads of RFC 7692 §7.2.3
// and checks what our compressor makes of the same messages.
func TestDeflateRFC7692Examples(t *testing.T) {
	t.Run("7.2.3.1 one compressed block", func(t *testing.T) {
		f := NewInflater(noTakeover, 0)
		if got := mustInflate(t, f, hexBytes("0xf2 0x48 0xcd 0xc9 0xc9 0x07 0x00")); got != "Hello" {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("7.2.3.1 fragmented", func(t *testing.T) {
		// 0x41 0x03 0xf2 0x48 0xcd, then 0x80 0x04 0xc9 0xc9 0x07 0x00, masked as a client sends them.
		d := &Decoder{AllowRSV1: true}
		in := cat(frame(rsv1|0x1, "\xf2\x48\xcd"), frame(finCont, "\xc9\xc9\x07\x00"))
		evs, _, err := feed(t, d, [][]byte{in})
		if err != nil || len(evs) != 1 || !evs[0].Compressed || evs[0].Op != OpText {
			t.Fatalf("events %+v, err %v", evs, err)
		}
		if got := mustInflate(t, NewInflater(noTakeover, 0), []byte(evs[0].Payload)); got != "Hello" {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("7.2.3.2 sharing the sliding window", func(t *testing.T) {
		f := NewInflater(takeoverParams, 0)
		first := mustInflate(t, f, hexBytes("0xf2 0x48 0xcd 0xc9 0xc9 0x07 0x00"))
		second := mustInflate(t, f, hexBytes("0xf2 0x00 0x11 0x00 0x00"))
		if first != "Hello" || second != "Hello" {
			t.Fatalf("got %q, %q", first, second)
		}
		// Without context takeover the second payload points before its start.
		g := NewInflater(noTakeover, 0)
		mustInflate(t, g, hexBytes("0xf2 0x48 0xcd 0xc9 0xc9 0x07 0x00"))
		if _, err := g.Inflate(nil, hexBytes("0xf2 0x00 0x11 0x00 0x00")); err != ErrBadDeflate {
			t.Fatalf("a reference into a window that was not kept: err %v, want ErrBadDeflate", err)
		}
	})
	t.Run("7.2.3.3 block with no compression", func(t *testing.T) {
		got := mustInflate(t, NewInflater(noTakeover, 0), hexBytes("0x00 0x05 0x00 0xfa 0xff 0x48 0x65 0x6c 0x6c 0x6f 0x00"))
		if got != "Hello" {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("7.2.3.4 block with BFINAL set", func(t *testing.T) {
		got := mustInflate(t, NewInflater(noTakeover, 0), hexBytes("0xf3 0x48 0xcd 0xc9 0xc9 0x07 0x00 0x00"))
		if got != "Hello" {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("7.2.3.5 two blocks in one message", func(t *testing.T) {
		got := mustInflate(t, NewInflater(noTakeover, 0),
			hexBytes("0xf2 0x48 0x05 0x00 0x00 0x00 0xff 0xff 0xca 0xc9 0xc9 0x07 0x00"))
		if got != "Hello" {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("our compressor", func(t *testing.T) {
		// Level 6 makes the §7.2.3.1 bytes; level 1 stores a message this
		// short, which is the §7.2.3.3 example byte for byte.
		for level, want := range map[int]string{
			6: "0xc1 0x07 0xf2 0x48 0xcd 0xc9 0xc9 0x07 0x00",
			1: "0xc1 0x0b 0x00 0x05 0x00 0xfa 0xff 0x48 0x65 0x6c 0x6c 0x6f 0x00",
		} {
			d := NewDeflater(takeoverParams, level, 0)
			fr, _ := d.Frame(nil, OpText, []byte("Hello"))
			if !bytes.Equal(fr, hexBytes(want)) {
				t.Errorf("level %d: frame % x, want %s", level, fr, want)
			}
			// With context takeover the second "Hello" refers to the first
			// (a 3-byte block at level 6; §7.2.3.2 spells it differently,
			// both are valid), and the client's inflater agrees.
			fr2, _ := d.Frame(nil, OpText, []byte("Hello"))
			f := NewInflater(DeflateParams{ClientMaxWindowBits: 15}, 0)
			mustInflate(t, f, fr[2:])
			if got := mustInflate(t, f, fr2[2:]); got != "Hello" {
				t.Errorf("level %d: second message % x inflates to %q", level, fr2, got)
			}
			d.Release()
		}
	})
	t.Run("empty message", func(t *testing.T) {
		f := NewInflater(noTakeover, 0)
		if got := mustInflate(t, f, []byte{0x00}); got != "" {
			t.Fatalf("0x00: got %q", got)
		}
		if got := mustInflate(t, f, nil); got != "" {
			t.Fatalf("empty payload: got %q", got)
		}
		fr, _ := NewDeflater(takeoverParams, 0, 0).Frame(nil, OpBinary, nil)
		if !bytes.Equal(fr, []byte{0xc2, 0x01, 0x00}) {
			t.Fatalf("empty message frame % x, want c2 01 00", fr)
		}
	})
}

// chatMessages is a JSON chat workload: n messages of about 100-300 bytes.
func chatMessages(n int) [][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	users := []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"}
	words := strings.Fields("hello world the meeting is at noon lunch today anyone deploy done thanks see you later " +
		"ok sure why not build failed again fixed it now review please merged coffee release notes ship")
	out := make([][]byte, n)
	for i := range out {
		var text []byte
		for len(text) < 40+r.IntN(180) {
			text = append(append(text, words[r.IntN(len(words))]...), ' ')
		}
		out[i] = fmt.Appendf(nil, `{"type":"message","id":%d,"room":"general","user":{"name":%q,"id":%d},"ts":%d,"text":%q}`,
			100000+i, users[r.IntN(len(users))], r.IntN(1000), 1700000000000+int64(i)*1234, text)
	}
	return out
}

// roundTrip sends msgs through a Deflater and the Inflater a client would
// use, returning the bytes on the wire (frames) and the plain size.
func roundTrip(t testing.TB, p DeflateParams, level, minSize int, msgs [][]byte) (wire, plain int) {
	d := NewDeflater(p, level, minSize)
	defer d.Release()
	// The client's inflater: its window follows the server's takeover.
	f := NewInflater(DeflateParams{ClientNoContextTakeover: p.ServerNoContextTakeover, ClientMaxWindowBits: 15}, 0)
	var buf []byte
	for i, m := range msgs {
		var fr []byte
		fr, buf = d.Frame(buf, OpBinary, m)
		if fr == nil {
			wire += HeaderSize(len(m)) + len(m)
			plain += len(m)
			continue
		}
		if fr[0] != 0xc2 {
			t.Fatalf("message %d: first header byte %#x, want FIN|RSV1|binary", i, fr[0])
		}
		hs := HeaderSize(len(fr) - 2)
		if len(fr)-hs != payloadLen(fr) {
			t.Fatalf("message %d: header length disagrees", i)
		}
		out, err := f.Inflate(nil, fr[hs:])
		if err != nil || !bytes.Equal(out, m) {
			t.Fatalf("message %d (%d bytes): round trip failed: %v", i, len(m), err)
		}
		wire += len(fr)
		plain += len(m)
	}
	return wire, plain
}

func payloadLen(fr []byte) int {
	switch n := fr[1] & 0x7f; n {
	case 126:
		return int(fr[2])<<8 | int(fr[3])
	case 127:
		l := 0
		for _, b := range fr[2:10] {
			l = l<<8 | int(b)
		}
		return l
	default:
		return int(n)
	}
}

func TestDeflateRoundTrip(t *testing.T) {
	msgs := chatMessages(1000)
	r := rand.New(rand.NewPCG(3, 4))
	var sizes [][]byte
	for _, n := range []int{0, 1, 63, 64, 125, 126, 127, 1000, 65535, 65536, 65537} {
		b := make([]byte, n)
		for i := range b {
			b[i] = "abcdefgh"[r.IntN(8)]
		}
		sizes = append(sizes, b)
		rnd := make([]byte, n)
		for i := range rnd {
			rnd[i] = byte(r.Uint32())
		}
		sizes = append(sizes, rnd)
	}
	big := [][]byte{bytes.Repeat(chatMessages(1)[0], 2000)} // 380 KiB: several deflate blocks
	for _, level := range []int{0, 1, 2, 6, 9} {
		for _, p := range []DeflateParams{takeoverParams, noTakeover} {
			name := fmt.Sprintf("level=%d/takeover=%v", level, !p.ServerNoContextTakeover)
			t.Run(name, func(t *testing.T) {
				wire, plain := roundTrip(t, p, level, 64, msgs)
				t.Logf("1000 chat messages: %d bytes -> %d on the wire (%.2fx)", plain, wire, float64(plain)/float64(wire))
				roundTrip(t, p, level, 0, sizes)
				if level <= 2 {
					roundTrip(t, p, level, 0, append(big, msgs[0]))
				}
			})
		}
	}
}

func TestDeflaterChoices(t *testing.T) {
	d := NewDeflater(noTakeover, 0, 64)
	if d.Level() != DefaultLevel || d.Takeover() {
		t.Fatalf("no takeover: level %d takeover %v", d.Level(), d.Takeover())
	}
	if d.Wants(63) || !d.Wants(64) || !d.Wants(1<<20) {
		t.Fatal("min size")
	}
	if fr, _ := d.Frame(nil, OpText, bytes.Repeat([]byte("a"), 63)); fr != nil {
		t.Fatal("a message below min size was compressed")
	}
	// Without takeover an incompressible message goes out plain.
	rnd := make([]byte, 1000)
	for i := range rnd {
		rnd[i] = byte(i*7 + i/3)
	}
	r := rand.New(rand.NewPCG(9, 9))
	for i := range rnd {
		rnd[i] = byte(r.Uint32())
	}
	if fr, _ := d.Frame(nil, OpBinary, rnd); fr != nil {
		t.Fatalf("incompressible message compressed to %d bytes", len(fr))
	}
	if d.Holds() {
		t.Fatal("a Deflater without takeover holds a compressor")
	}
	// With takeover it must go out compressed all the same.
	dt := NewDeflater(takeoverParams, 0, 64)
	if dt.Level() != DefaultTakeoverLevel || !dt.Takeover() {
		t.Fatalf("takeover: level %d takeover %v", dt.Level(), dt.Takeover())
	}
	if fr, _ := dt.Frame(nil, OpBinary, rnd); fr == nil {
		t.Fatal("with takeover a message the compressor took in was sent plain")
	}
	if !dt.Holds() {
		t.Fatal("a takeover Deflater holds no compressor after a message")
	}
	dt.Release()
	if dt.Holds() {
		t.Fatal("Release kept the compressor")
	}
	// server_max_window_bits=10: no takeover, and only messages up to 1 KiB.
	small := NewDeflater(DeflateParams{ServerMaxWindowBits: 10, ClientMaxWindowBits: 15}, 6, 0)
	if small.Takeover() || !small.Wants(1024) || small.Wants(1025) {
		t.Fatalf("10-bit window: takeover %v wants(1024) %v wants(1025) %v", small.Takeover(), small.Wants(1024), small.Wants(1025))
	}
}

// TestDeflateSmallWindow checks the promise behind honouring
// server_max_window_bits=N: no match of a compressed message reaches
// further back than 2^N bytes. Each message inflates alone (an inflater
// without history fails on a match before the message's start) and is at
// most 2^N bytes long, so every match distance is below 2^N. Where
// python3 is installed, zlib itself inflates the frames with an N-bit
// window, as a client limited to it would.
func TestDeflateSmallWindow(t *testing.T) {
	var script strings.Builder
	script.WriteString("import sys, zlib, binascii\n")
	var chat []byte
	for _, m := range chatMessages(200) {
		chat = append(chat, m...)
	}
	for bits := 8; bits <= 14; bits++ {
		d := NewDeflater(DeflateParams{ServerNoContextTakeover: true, ServerMaxWindowBits: bits, ClientMaxWindowBits: 15}, 6, 0)
		n := 1 << bits
		msg := chat[:n] // JSON: matches at all sorts of distances
		fr, _ := d.Frame(nil, OpBinary, msg)
		if fr == nil {
			t.Fatalf("%d bits: a 2^N-byte message was not compressed", bits)
		}
		payload := fr[HeaderSize(len(fr)-2):]
		if got, err := NewInflater(noTakeover, 0).Inflate(nil, payload); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("%d bits: the message does not inflate alone: %v", bits, err)
		}
		if fr, _ := d.Frame(nil, OpBinary, append(msg, 'x')); fr != nil {
			t.Fatalf("%d bits: a message longer than the window was compressed", bits)
		}
		wbits := bits
		if wbits == 8 {
			wbits = 9 // zlib reads raw 8-bit windows as 9 (its documented quirk)
		}
		fmt.Fprintf(&script, "d = zlib.decompressobj(-%d)\nout = d.decompress(binascii.unhexlify('%x') + b'\\x00\\x00\\xff\\xff')\n"+
			"assert out == binascii.unhexlify('%x'), %d\n", wbits, payload, msg, bits)
	}
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Log("python3 not found: zlib cross-check skipped")
		return
	}
	cmd := exec.Command(python, "-c", script.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("zlib with the small window refused our frames: %v\n%s", err, out)
	}
}

func TestInflateLimits(t *testing.T) {
	t.Run("zip bomb", func(t *testing.T) {
		const limit = 1 << 20
		var b bytes.Buffer
		w, _ := flate.NewWriter(&b, 1)
		w.Write(make([]byte, 16<<20)) // 16 MiB of zeros: about 64 KiB compressed
		w.Flush()
		payload := b.Bytes()[:b.Len()-4]
		t.Logf("16 MiB of zeros compressed to %d bytes", len(payload))
		f := NewInflater(noTakeover, limit)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		out, err := f.Inflate(nil, payload)
		runtime.ReadMemStats(&after)
		if err != ErrMessageTooBig {
			t.Fatalf("err %v, want ErrMessageTooBig", err)
		}
		if cap(out) > limit+1 {
			t.Fatalf("output buffer grew to %d bytes, limit %d", cap(out), limit)
		}
		// The buffer doubles up to limit+1, so all the garbage it leaves
		// adds up to about the limit again; plus a pooled reader.
		// Measured: 2.05 MiB for a 1 MiB limit.
		alloc := after.TotalAlloc - before.TotalAlloc
		t.Logf("inflating the bomb allocated %d bytes in all, for a limit of %d", alloc, limit)
		if alloc > 5*limit/2 {
			t.Fatalf("inflating the bomb allocated %d bytes; the limit is %d", alloc, limit)
		}
		// Exactly at the limit is fine, one byte more is not.
		for _, n := range []int{limit, limit + 1} {
			b.Reset()
			w.Reset(&b)
			w.Write(make([]byte, n))
			w.Flush()
			out, err := f.Inflate(nil, b.Bytes()[:b.Len()-4])
			if (n <= limit) != (err == nil) || (err == nil && len(out) != n) {
				t.Fatalf("%d bytes with limit %d: %d bytes, err %v", n, limit, len(out), err)
			}
		}
	})
	t.Run("invalid data", func(t *testing.T) {
		f := NewInflater(noTakeover, 0)
		good := hexBytes("0xf2 0x48 0xcd 0xc9 0xc9 0x07 0x00")
		for _, bad := range [][]byte{
			{0xff, 0xff, 0xff, 0xff},       // reserved block type 3
			{0x07},                         // reserved block type, final
			good[:3],                       // a block cut short
			{0x00, 0x05, 0x00, 0xfb, 0xff}, // stored length and its complement disagree
			{0x02, 0x13, 0x00},             // a match before any output
		} {
			if out, err := f.Inflate([]byte("keep"), bad); err != ErrBadDeflate || string(out) != "keep" {
				t.Errorf("% x: %q, %v; want ErrBadDeflate and dst untouched", bad, out, err)
			}
		}
		// The Inflater stays usable (the connection is closed anyway, but
		// a pooled reader must not carry the failure).
		if got := mustInflate(t, f, good); got != "Hello" {
			t.Fatalf("after failures: %q", got)
		}
	})
}

func TestInflaterHistory(t *testing.T) {
	for _, bits := range []int{9, 15} {
		f := NewInflater(DeflateParams{ClientMaxWindowBits: bits}, 0)
		win := 1 << bits
		var all []byte
		r := rand.New(rand.NewPCG(5, 6))
		for i := 0; i < 200; i++ {
			n := r.IntN(3 * win / 2)
			m := make([]byte, n)
			for j := range m {
				m[j] = byte(r.Uint32())
			}
			all = append(all, m...)
			f.remember(m)
			want := all[max(0, len(all)-win):]
			if !bytes.Equal(f.hist, want) {
				t.Fatalf("%d bits, message %d: history of %d bytes differs from the last %d", bits, i, len(f.hist), len(want))
			}
			if f.Held() > win {
				t.Fatalf("%d bits: history buffer of %d bytes", bits, f.Held())
			}
		}
	}
	if NewInflater(noTakeover, 0).Held() != 0 {
		t.Fatal("an Inflater without takeover holds history")
	}
}

// TestDeflateAutobahnStyle follows Autobahn|TestSuite cases 12 and 13:
// for each message size, many messages through both directions' code,
// with and without context takeover, at each window the client may ask.
func TestDeflateAutobahnStyle(t *testing.T) {
	sizes := []int{16, 64, 256, 1024, 4096, 8192, 16384, 32768, 65536, 131072}
	if testing.Short() {
		sizes = sizes[:6]
	}
	r := rand.New(rand.NewPCG(7, 8))
	text := chatMessages(400)
	var corpus []byte
	for _, m := range text {
		corpus = append(corpus, m...)
	}
	for _, p := range []DeflateParams{
		takeoverParams, noTakeover,
		{ServerNoContextTakeover: true, ServerMaxWindowBits: 9, ClientMaxWindowBits: 15},
		{ServerNoContextTakeover: true, ServerMaxWindowBits: 12, ClientMaxWindowBits: 15},
	} {
		for _, size := range sizes {
			count := 100
			if size >= 32768 {
				count = 10
			}
			msgs := make([][]byte, count)
			for i := range msgs {
				off := r.IntN(len(corpus) - size%len(corpus))
				msgs[i] = corpus[off : off+min(size, len(corpus)-off)]
				if len(msgs[i]) < size {
					msgs[i] = bytes.Repeat(msgs[i], size/len(msgs[i])+1)[:size]
				}
			}
			roundTrip(t, p, 0, 0, msgs)
		}
	}
}

// FuzzInflate: any payload inflates or fails with one of the two errors,
// never past the limit, and the history stays within the window.
func FuzzInflate(f *testing.F) {
	f.Add(hexBytes("0xf2 0x48 0xcd 0xc9 0xc9 0x07 0x00"), true)
	f.Add(hexBytes("0x00 0x05 0x00 0xfa 0xff 0x48 0x65 0x6c 0x6c 0x6f 0x00"), false)
	f.Add(hexBytes("0xf3 0x48 0xcd 0xc9 0xc9 0x07 0x00 0x00"), true)
	f.Add([]byte{0x02, 0x13, 0x00}, true)
	f.Fuzz(func(t *testing.T, payload []byte, takeover bool) {
		const limit = 1 << 16
		inf := NewInflater(DeflateParams{ClientNoContextTakeover: !takeover, ClientMaxWindowBits: 10}, limit)
		for range 2 { // the second time with whatever history the first left
			out, err := inf.Inflate(nil, payload)
			switch {
			case err == nil && len(out) > limit:
				t.Fatalf("%d bytes inflated past the limit", len(out))
			case err != nil && err != ErrBadDeflate && err != ErrMessageTooBig:
				t.Fatalf("unexpected error %v", err)
			case cap(out) > limit+1:
				t.Fatalf("output buffer of %d bytes", cap(out))
			}
			if inf.Held() > 1<<10 {
				t.Fatalf("history of %d bytes for a 10-bit window", inf.Held())
			}
		}
	})
}
