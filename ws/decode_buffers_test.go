package ws

import (
	"strings"
	"testing"
	"unsafe"
)

// lender is an Allocator that keeps what is given back for reuse and
// counts what is out, catching a buffer given back twice.
type lender struct {
	t       *testing.T
	free    [][]byte
	out     map[*byte]bool
	gets    int
	biggest int
	fresh   int // bytes allocated, not reused
}

func newLender(t *testing.T) *lender { return &lender{t: t, out: map[*byte]bool{}} }

func (l *lender) Get(n int) []byte {
	l.gets++
	l.biggest = max(l.biggest, n)
	for i, b := range l.free {
		if cap(b) >= n {
			l.free = append(l.free[:i], l.free[i+1:]...)
			l.out[unsafe.SliceData(b[:1])] = true
			return b[:0]
		}
	}
	b := make([]byte, 0, max(n, 1))
	l.fresh += cap(b)
	l.out[unsafe.SliceData(b[:1])] = true
	return b
}

func (l *lender) Put(b []byte) {
	p := unsafe.SliceData(b[:1])
	if !l.out[p] {
		l.t.Fatal("Put of a buffer that is not out (twice, or foreign)")
	}
	delete(l.out, p)
	l.free = append(l.free, b)
}

// TestDecodeBuffersHook: with Buffers set, the message buffer is borrowed
// for a split or fragmented message and given back by Release, so
// nothing is held between messages, and reused by the next one.
func TestDecodeBuffersHook(t *testing.T) {
	l := newLender(t)
	d := Decoder{Buffers: l}
	body := strings.Repeat("x", 300<<10)
	in := cat(frame(0x2, body[:100<<10]), frame(finCont, body[100<<10:]))
	firstRound := 0
	for round := 0; round < 3; round++ {
		if round == 1 {
			firstRound = l.fresh
		}
		evs := 0
		for _, c := range chunked(append([]byte(nil), in...), 64<<10) {
			for len(c) > 0 {
				n, ev, err := d.Decode(c)
				if err != nil {
					t.Fatal(err)
				}
				c = c[n:]
				if ev.Kind == EventMessage {
					evs++
					if string(ev.Payload) != body {
						t.Fatal("payload differs")
					}
					d.Release()
					if len(l.out) != 0 || d.Buffered() != 0 {
						t.Fatalf("after Release: %d buffers out, %d bytes buffered", len(l.out), d.Buffered())
					}
				}
			}
		}
		if evs != 1 {
			t.Fatalf("%d messages", evs)
		}
	}
	if l.fresh != firstRound {
		t.Fatalf("allocated %d more bytes after the first message: buffers not reused", l.fresh-firstRound)
	}
	// A partial message is given back by Reset and by a protocol error.
	d.Decode(append([]byte(nil), frame(0x2, "abc")...))
	if len(l.out) != 1 {
		t.Fatalf("%d buffers out mid-message", len(l.out))
	}
	d.Reset()
	if len(l.out) != 0 || d.Buffers == nil {
		t.Fatal("Reset kept the buffer or dropped the hook")
	}
	d.Decode(append([]byte(nil), frame(0x2, "abc")...))
	if _, _, err := d.Decode(append([]byte(nil), frame(fin|0x2, "x")...)); err == nil {
		t.Fatal("expected a protocol error")
	}
	if len(l.out) != 0 {
		t.Fatal("a failed Decoder kept its buffer")
	}
}

// TestDecodeBuffersHugeHeader: a header announcing a big frame borrows
// only in proportion to the bytes that came.
func TestDecodeBuffersHugeHeader(t *testing.T) {
	l := newLender(t)
	d := Decoder{Buffers: l, MaxMessage: 1 << 30}
	in := cat(header(fin|0x2, true, 64, 1<<29), make([]byte, 1000))
	if _, _, err := d.Decode(in); err != nil {
		t.Fatal(err)
	}
	if l.biggest > 4<<10 {
		t.Fatalf("borrowed %d bytes for 1000 that came", l.biggest)
	}
}

// sparer lends a free buffer from Spare, and never allocates there.
type sparer struct{ *lender }

func (s sparer) Spare(n int) []byte {
	for _, b := range s.free {
		if cap(b) >= n {
			return s.Get(n)
		}
	}
	return nil
}

// TestDecodeBuffersSpare: a final frame whose whole size is free in the
// lender takes that buffer at once instead of growing into it; without a
// free one it grows from what came, as before.
func TestDecodeBuffersSpare(t *testing.T) {
	l := sparer{newLender(t)}
	d := Decoder{Buffers: l}
	body := strings.Repeat("y", 200<<10)
	in := frame(fin|0x2, body)
	for round := 0; round < 2; round++ {
		gets := l.gets
		for _, c := range chunked(append([]byte(nil), in...), 16<<10) {
			for len(c) > 0 {
				n, ev, err := d.Decode(c)
				if err != nil {
					t.Fatal(err)
				}
				c = c[n:]
				if ev.Kind == EventMessage {
					if string(ev.Payload) != body {
						t.Fatal("payload differs")
					}
					d.Release()
				}
			}
		}
		if round == 1 && l.gets-gets != 1 {
			t.Fatalf("%d buffers taken for a message whose buffer was free", l.gets-gets)
		}
	}
	// A huge announced frame finds no spare and borrows only what came.
	d = Decoder{Buffers: l, MaxMessage: 1 << 30}
	l.biggest = 0
	if _, _, err := d.Decode(cat(header(fin|0x2, true, 64, 1<<29), make([]byte, 1000))); err != nil {
		t.Fatal(err)
	}
	if l.biggest > 4<<10 {
		t.Fatalf("borrowed %d bytes for 1000 that came", l.biggest)
	}
}
