package poll

import (
	"bytes"
	"errors"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// holdPair accepts n connections on tl and returns them with the client ends.
func holdPair(t *testing.T, tl *testLoop, n int) ([]*recorder, []net.Conn) {
	t.Helper()
	addr, conns := tl.listen(newRecorder)
	var rs []*recorder
	var cs []net.Conn
	for range n {
		cs = append(cs, dial(t, addr))
		rs = append(rs, <-conns)
	}
	return rs, cs
}

// Held output waits past the round; a write that does not wait, or
// Close, takes it along in order, in one system call.
func TestHoldWritesWaitAndJoin(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			tl := startLoop(t, Config{Poller: b, FlushDelay: time.Hour})
			rs, cs := holdPair(t, tl, 2)
			a, z := rs[0], rs[1]
			var before, after Stats
			held := func(c *Conn, s string) bool {
				tl.HoldWrites(true)
				defer tl.HoldWrites(false)
				return c.WriteString(s)
			}
			tl.do(func() {
				before = tl.Stats()
				if !held(a.c, "1,") || !held(z.c, "1,") {
					t.Error("a held write under the high-water mark reported false")
				}
			})
			tl.do(func() { held(a.c, "2,") }) // a later round, the same delay
			tl.do(func() {
				after = tl.Stats()
				if a.c.Queued() != 4 || z.c.Queued() != 2 {
					t.Errorf("queued %d and %d, want 4 and 2 held", a.c.Queued(), z.c.Queued())
				}
			})
			if w := after.Writes - before.Writes; w != 0 {
				t.Fatalf("%d writes while the output was held, want 0", w)
			}

			tl.do(func() { before = tl.Stats(); a.c.WriteString("3,") })
			got := make([]byte, 6)
			if _, err := io.ReadFull(cs[0], got); err != nil || string(got) != "1,2,3," {
				t.Fatalf("read %q (%v), want the held messages before the new one", got, err)
			}
			tl.do(func() { z.c.Close(errors.New("done")) })
			rest, err := io.ReadAll(cs[1])
			if err != nil || string(rest) != "1," {
				t.Fatalf("closed connection: read %q (%v), want its held message then EOF", rest, err)
			}
			var hs HoldStats
			tl.do(func() { after, hs = tl.Stats(), tl.HoldStats() })
			if w := after.Writes - before.Writes; w != 2 {
				t.Fatalf("%d writes for 2 connections, want 2", w)
			}
			if hs != (HoldStats{Held: 2, Released: 0, Windows: 1}) {
				t.Fatalf("hold stats %+v, want 2 held in 1 window, none released by the delay", hs)
			}
		})
	}
}

// The delay's end writes held output with nothing else happening.
func TestHoldWritesReleasedByDelay(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			tl := startLoop(t, Config{Poller: b, FlushDelay: 5 * time.Millisecond})
			rs, cs := holdPair(t, tl, 1)
			c := rs[0].c
			for i := range 3 {
				tl.do(func() {
					c.flushedAt = tl.now.Sub(tl.epoch) // as if written this round
					tl.HoldWrites(true)
					c.WriteString("m,")
					tl.HoldWrites(false)
					if !c.held {
						t.Error("output for a connection written this round was not held")
					}
				})
				got := make([]byte, 2)
				if _, err := io.ReadFull(cs[0], got); err != nil || string(got) != "m," {
					t.Fatalf("message %d: read %q (%v)", i, got, err)
				}
			}
			var hs HoldStats
			tl.do(func() { hs = tl.HoldStats() })
			if hs != (HoldStats{Held: 3, Released: 3, Windows: 3}) {
				t.Fatalf("hold stats %+v, want 3 held and released by 3 delays", hs)
			}
		})
	}
}

// Output for a connection not written to within the delay goes at the
// end of the round; the next, inside the delay that write started, waits.
func TestHoldWritesAfterQuiet(t *testing.T) {
	tl := startLoop(t, Config{FlushDelay: time.Hour})
	rs, cs := holdPair(t, tl, 1)
	c := rs[0].c
	held := func(s string) {
		tl.HoldWrites(true)
		c.WriteString(s)
		tl.HoldWrites(false)
	}
	tl.do(func() {
		c.flushedAt = tl.now.Sub(tl.epoch) - time.Hour // quiet for the whole delay
		held("first,")
	})
	got := make([]byte, len("first,"))
	if _, err := io.ReadFull(cs[0], got); err != nil || string(got) != "first," {
		t.Fatalf("read %q (%v), want the message at once", got, err)
	}
	var queued int
	var hs HoldStats
	tl.do(func() { held("second,") })
	tl.do(func() { queued, hs = c.Queued(), tl.HoldStats() })
	if queued != len("second,") || hs != (HoldStats{Held: 1, Windows: 1}) {
		t.Fatalf("queued %d, hold stats %+v: want the second message held", queued, hs)
	}
}

// Without a delay, holding changes nothing: the round's end writes.
func TestHoldWritesWithoutDelay(t *testing.T) {
	tl := startLoop(t, Config{})
	rs, cs := holdPair(t, tl, 1)
	tl.do(func() {
		tl.HoldWrites(true)
		rs[0].c.WriteString("now")
		tl.HoldWrites(false)
	})
	got := make([]byte, 3)
	if _, err := io.ReadFull(cs[0], got); err != nil || string(got) != "now" {
		t.Fatalf("read %q (%v)", got, err)
	}
	var hs HoldStats
	tl.do(func() { hs = tl.HoldStats() })
	if hs != (HoldStats{}) {
		t.Fatalf("hold stats %+v without a delay, want none", hs)
	}
}

// Held output counts against the high-water mark and MaxQueued like
// any other: a subscriber that cannot keep up is refused, then dropped,
// and the others are not held back.
func TestHoldWritesBackpressure(t *testing.T) {
	tl := startLoop(t, Config{FlushDelay: time.Hour, HighWater: 64 << 10, MaxQueued: 256 << 10})
	rs, cs := holdPair(t, tl, 2)
	// What Closed writes is not a delivery: it is not held.
	tl.do(func() { rs[0].c.SetHandler(closeWriter{rs[0], rs[1].c}) })
	chunk := bytes.Repeat([]byte("h"), 48<<10)
	var answers []bool
	for range 8 {
		tl.do(func() {
			tl.HoldWrites(true)
			answers = append(answers, rs[0].c.Write(chunk))
			tl.HoldWrites(false)
		})
	}
	if want := []bool{true, false, false, false, false, false, false, false}; !slices.Equal(answers, want) {
		t.Fatalf("held writes answered %v, want %v", answers, want)
	}
	select {
	case <-rs[0].closed:
	case <-time.After(5 * time.Second):
		t.Fatal("held output over MaxQueued did not drop the connection")
	}
	if !errors.Is(rs[0].cause, ErrSlowConsumer) {
		t.Fatalf("cause %v, want ErrSlowConsumer", rs[0].cause)
	}
	got := make([]byte, len("gone,"))
	if _, err := io.ReadFull(cs[1], got); err != nil || string(got) != "gone," {
		t.Fatalf("other connection: read %q (%v), want what the dropped one's Closed wrote", got, err)
	}
	tl.do(func() { rs[1].c.WriteString("still served") })
	got = make([]byte, len("still served"))
	if _, err := io.ReadFull(cs[1], got); err != nil || string(got) != "still served" {
		t.Fatalf("other connection: read %q (%v)", got, err)
	}
}

// closeWriter is a recorder whose Closed writes to another connection.
type closeWriter struct {
	*recorder
	other *Conn
}

func (w closeWriter) Closed(cause error) {
	w.recorder.Closed(cause)
	w.other.WriteString("gone,")
}

// A held write, its delay and its release allocate nothing: the timer
// is the loop's own, armed again for each delay.
func TestHoldWritesAllocateNothing(t *testing.T) {
	l, err := NewLoop(Config{FlushDelay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fds, err := socketPair()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[1])
	c, err := l.NewConn(fds[0], &echoHandler{})
	if err != nil {
		t.Fatal(err)
	}
	msg, back := []byte("0123456789"), make([]byte, 4096)
	write := func() {
		l.HoldWrites(true)
		c.Write(msg)
		l.HoldWrites(false)
		if !l.holdTimer.Stop() {
			t.Fatal("no delay armed")
		}
		l.releaseHeld() // what the timer does, without waiting for it
		l.Round(0)
		if n, _ := unix.Read(fds[1], back); n != len(msg) {
			t.Fatalf("peer read %d bytes, want %d", n, len(msg))
		}
	}
	write()
	if n := testing.AllocsPerRun(100, write); n != 0 {
		t.Fatalf("%v allocations per held write, want 0", n)
	}
}
